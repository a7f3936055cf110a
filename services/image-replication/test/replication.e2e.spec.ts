/**
 * Images across regions, as processes against a real nats-server (gateway, image-replication,
 * the `vnet` CLI): an upload with its progress bar and digest, two concurrent requests for
 * one region that copy once, and a copy interrupted by killing the service that is begun
 * again by the next one and only then marked ready, its bytes checked.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { domainEventCodec, streamNameOf, type DomainEvent, type EventOf } from '@vnet/events';
import { eventFrom } from '@vnet/events/testing';
import type { EventStore } from '@vnet/eventstore';
import { startService, startTestNats, until, type ServiceProcess, type TestNats } from '@vnet/eventstore/testing';
import { openImageBucket, storedDigest } from '@vnet/images';
import { vnetTopology } from '@vnet/topology';

const ROOT = join(import.meta.dirname, '../../..');
const VNET = join(ROOT, 'services/cli/bin/vnet.js');
const SIZE = 6 * 1024 * 1024 + 777;
/** Copies at 4 MiB/s: the 6 MiB image takes about 1.5 s, long enough to kill its copier. */
const SERVICE_ENV = { VNET_IMAGE_COPY_MIBPS: '4', VNET_IMAGE_STALE_MS: '1500' };

let nats: TestNats;
let store: EventStore<DomainEvent>;
let dir: string;
let file: string;
let digest: string;
const services: ServiceProcess[] = [];
/** Two instances share the requests. */
let replication: ServiceProcess;
let replication2: ServiceProcess;

/** Runs the CLI (bounded): exit code, stdout, stderr. */
function vnet(args: readonly string[], timeoutMs = 60_000): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [VNET, ...args], { cwd: ROOT, env: { ...process.env, NATS_URL: nats.url } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += String(d)));
    p.stderr.on('data', (d) => (err += String(d)));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, out, err });
    });
  });
}

async function append(type: string, payload: Record<string, unknown>): Promise<void> {
  const ev = eventFrom(type, payload);
  const r = await store.appendToStream(streamNameOf(ev), [ev]);
  assert.ok(E.isRight(r));
}

async function imageEvents(): Promise<DomainEvent[]> {
  const out: DomainEvent[] = [];
  for await (const r of store.readStream('image.disk')) out.push(r.event);
  return out;
}
const replicatedTo = (region: string) =>
  until(async () => (await imageEvents()).find((e): e is EventOf<'ImageReplicated'> => e.type === 'ImageReplicated' && e.payload.regionId === region), `disk replicated to ${region}`, 30_000);

before(async () => {
  nats = await startTestNats(vnetTopology());
  store = await nats.connect(domainEventCodec, 'images-e2e');
  dir = mkdtempSync(join(tmpdir(), 'vnet-images-e2e-'));
  file = join(dir, 'disk.img');
  const bytes = randomBytes(SIZE);
  writeFileSync(file, bytes);
  digest = createHash('sha256').update(bytes).digest('hex');
  for (const r of ['r1', 'r2', 'r3']) await append('RegionDeclared', { regionId: r, name: `Region ${r}` });
  services.push(await startService('gateway', nats.url));
  replication = await startService('image-replication', nats.url, { env: SERVICE_ENV });
  replication2 = await startService('image-replication', nats.url, { env: SERVICE_ENV });
});

after(async () => {
  await replication?.stop();
  await replication2?.stop();
  for (const s of services) await s.stop();
  await store?.close();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('images across regions', () => {
  it('vnet image push uploads with a progress bar and records the digest in the catalogue', async () => {
    const r = await vnet(['image', 'push', file, '--region', 'r1']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`uploaded\\s+disk \\(disk.img\\) to r1: ${SIZE} bytes, sha256 ${digest}`));
    assert.match(r.err, /uploading\s+\[.*\] 100% \| 6\.0\/6\.0 MiB/);
    const up = await until(async () => (await imageEvents()).find((e): e is EventOf<'ImageUploaded'> => e.type === 'ImageUploaded'), 'ImageUploaded through the gateway', 10_000);
    assert.equal(up.payload.digest, digest);
    assert.equal(up.payload.size, SIZE);
    assert.deepEqual(await storedDigest((await openImageBucket(store, 'r1', false))!, 'disk'), { digest, size: SIZE });
    const bad = await vnet(['image', 'push', join(dir, 'missing.img'), '--region', 'r1']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /missing\.img: no such file/);
    const nowhere = await vnet(['image', 'push', file, '--region', 'nowhere']);
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.err, /region nowhere is not declared/);
    assert.equal(await openImageBucket(store, 'nowhere', false), undefined, 'no bucket made for it');
  });

  it('two requests for one region at once, two instances: copied once, with progress, and the copy has the digest', async () => {
    await Promise.all([append('ImageReplicationRequested', { imageId: 'disk', regionId: 'r2' }), append('ImageReplicationRequested', { imageId: 'disk', regionId: 'r2' })]);
    const done = await replicatedTo('r2');
    await new Promise((r) => setTimeout(r, 300));
    const evs = await imageEvents();
    assert.equal(evs.filter((e) => e.type === 'ImageReplicationStarted' && e.payload.toRegionId === 'r2').length, 1, 'one copy');
    assert.ok(evs.some((e) => e.type === 'ImageReplicationProgress' && e.payload.toRegionId === 'r2'), 'progress events');
    assert.equal(done.payload.digest, digest);
    assert.equal(done.payload.fromRegionId, 'r1');
    assert.deepEqual(await storedDigest((await openImageBucket(store, 'r2', false))!, 'disk'), { digest, size: SIZE });
  });

  it('a copy interrupted by its copier dying is begun again by the next one, and marked ready only when complete', async () => {
    const follow = vnet(['image', 'replicate', 'disk', '--region', 'r3', '--timeout', '30000']);
    await until(async () => ((await imageEvents()).some((e) => e.type === 'ImageReplicationProgress' && e.payload.toRegionId === 'r3') ? true : undefined), 'the copy to r3 under way', 10_000, 20);
    // Kill whichever instance is copying (both, if it cannot be told): the copy stops half way.
    await Promise.all([replication.stop('SIGKILL'), replication2.stop('SIGKILL')]);
    const r3 = await openImageBucket(store, 'r3', true);
    assert.equal(await r3!.info('disk'), null, 'nothing readable in r3 after the kill');
    assert.ok(!(await imageEvents()).some((e) => e.type === 'ImageReplicated' && e.payload.regionId === 'r3'), 'not marked ready');
    replication = await startService('image-replication', nats.url, { env: SERVICE_ENV });
    replication2 = await startService('image-replication', nats.url, { env: SERVICE_ENV });
    const done = await replicatedTo('r3');
    assert.equal(done.payload.attempt, 2, 'the second attempt finished it');
    assert.deepEqual(await storedDigest(r3!, 'disk'), { digest, size: SIZE });
    const r = await follow;
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /replicated disk in r3: \d+ bytes from r\d, digest checked/);
    assert.match(r.err, /attempt 2/);
  });

  it('vnet images lists the image with the regions that have it', async () => {
    const r = await vnet(['images']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /IMAGE\s+NAME\s+SIZE\s+SHA256\s+REGIONS/);
    assert.match(r.out, new RegExp(`disk\\s+disk\\.img\\s+6\\.0 MiB\\s+${digest.slice(0, 12)}…\\s+r1, r2, r3`));
    const unknown = await vnet(['image', 'replicate', 'nope', '--region', 'r2', '--timeout', '10000']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /unknown-image/);
  });
});
