/**
 * `vnet keys rotate` against a real nats-server with the gateway and the token issuer
 * running: a placed VM gets key id + 1 sealed to its host, each request rotates once more,
 * and bad input or a VM that is not placed is refused with a clear message.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { DatacenterId, domainEventCodec, HostId, Ipv4, mustDecode, newEvent, PublicKey, RegionId, streamNameOf, UnderlayAddress, VmId, Vni, type DomainEvent } from '@vnet/events';
import type { EventStore } from '@vnet/eventstore';
import { startService, startTestNats, until, type ServiceProcess, type TestNats } from '@vnet/eventstore/testing';
import { generateHostKeyPair, keyContext, openSealedKey, parseKeyPair } from '@vnet/tokens';
import { vnetTopology } from '@vnet/topology';

const ROOT = join(import.meta.dirname, '../../..');
const VNET = join(ROOT, 'services/cli/bin/vnet.js');
const h1 = generateHostKeyPair();

describe('vnet keys rotate', () => {
  let nats: TestNats;
  let store: EventStore<DomainEvent>;
  const services: ServiceProcess[] = [];
  let dir: string;
  /** Runs the CLI without blocking the event loop (the services answer meanwhile). */
  const vnet = (...args: string[]) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn(process.execPath, [VNET, 'keys', 'rotate', ...args, '--nats', nats.url], { cwd: ROOT });
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => (out += String(d)));
      p.stderr.on('data', (d) => (err += String(d)));
      const t = setTimeout(() => p.kill('SIGKILL'), 60_000);
      p.on('close', (code) => (clearTimeout(t), resolve({ code, out, err })));
    });
  const keyIds = async () => {
    const out: number[] = [];
    for await (const r of store.readStream('hostkeys.h1')) if (r.event.type === 'VmKeyIssued') out.push(r.event.payload.keyId);
    return out;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vnet-keys-'));
    nats = await startTestNats(vnetTopology());
    store = await nats.connect(domainEventCodec, 'keys-test');
    const underlay = mustDecode(UnderlayAddress, '127.0.1.1:6081');
    const events = [
      newEvent('HostRegistered', { hostId: mustDecode(HostId, 'h1'), regionId: mustDecode(RegionId, 'r1'), datacenterId: mustDecode(DatacenterId, 'dc1'), underlay, publicKey: mustDecode(PublicKey, h1.publicKey) }),
      newEvent('VmMappingAdded', { vni: mustDecode(Vni, 5), ip: mustDecode(Ipv4, '10.5.0.1'), vmId: mustDecode(VmId, 'vm-a'), hostId: mustDecode(HostId, 'h1'), underlay }),
    ];
    for (const e of events) assert.ok(E.isRight(await store.appendToStream(streamNameOf(e), [e])));
    services.push(await startService('gateway', nats.url), await startService('token-issuer', nats.url, { env: { VNET_DATA_DIR: dir } }));
    await until(async () => ((await keyIds()).length === 1 ? true : undefined), 'key 1 of vm-a');
  });
  after(async () => {
    for (const s of services) await s.stop();
    await store?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives a placed VM a new key, sealed to its host; asking again rotates again', async () => {
    const r = await vnet('vm-a', '--reason', 'test rotation');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /requested\s+new key for vm-a/);
    assert.match(r.out, /rotated\s+vm-a: key 2, sealed to host h1/);
    const again = await vnet('vm-a');
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /rotated\s+vm-a: key 3, sealed to host h1/);
    assert.deepEqual(await keyIds(), [1, 2, 3]);
    for await (const rec of store.readStream('hostkeys.h1')) {
      const e = rec.event;
      if (e.type !== 'VmKeyIssued') continue;
      assert.equal(e.payload.reason, e.payload.keyId === 1 ? 'placed' : 'rotated');
      assert.equal(openSealedKey(e.payload.sealedForHost, h1.privateKey, keyContext('vm-a', 'h1', e.payload.keyId)).length, 32, 'opens with the host key');
    }
  });

  it('refuses a bad VM id, and says so when a VM gets no key', async () => {
    const bad = await vnet('Not A VM');
    assert.equal(bad.code, 1);
    assert.match(bad.err, /VM "Not A VM".*vmId/s);
    assert.match(bad.err, /nothing was published/);
    const nobody = await vnet('nobody', '--timeout', '1500');
    assert.equal(nobody.code, 1);
    assert.match(nobody.out, /requested\s+new key for nobody/);
    assert.match(nobody.err, /no new key for nobody after 1500 ms: is the VM placed/);
  });
});

describe('vnet keys new-host, and host-agent without a key pair', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [VNET, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });

  it('writes a key pair once (0600), prints its public key, and the host agent refuses to start without one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vnet-newhost-'));
    try {
      const out = join(dir, 'keys', 'h7.json');
      const r = run('keys', 'new-host', 'h7', '--out', out);
      assert.equal(r.status, 0, r.stderr);
      const pair = parseKeyPair(readFileSync(out, 'utf8'), out);
      assert.match(r.stdout, new RegExp(`publicKey\\s+${pair.publicKey.replace(/[+/]/g, (c) => `\\${c}`)}`));
      assert.equal(statSync(out).mode & 0o777, 0o600);
      const again = run('keys', 'new-host', 'h7', '--out', out);
      assert.equal(again.status, 1);
      assert.match(again.stderr, /exists: not overwritten/);
      const agent = run('host-agent', '--host', 'h9', '--data-dir', dir);
      assert.equal(agent.status, 1);
      assert.match(agent.stderr, /no key pair for host h9 at .*keys\/h9\.json: give --key-file/);
      assert.match(agent.stderr, /vnet keys new-host h9/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
