/**
 * Image bytes in per-region object stores, against a real nats-server: an upload and a copy
 * keep the digest, a throttled copy keeps to its rate, and a copy cut off half way leaves no
 * object in the target bucket.
 */
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { domainEventCodec, type DomainEvent } from '@vnet/events';
import type { EventStore } from '@vnet/eventstore';
import { startTestNats, type TestNats } from '@vnet/eventstore/testing';
import { vnetTopology } from '@vnet/topology';
import { copyImage, fileDigest, imageBucketOf, openImageBucket, putImageFile, storedDigest } from '../src/index';

let nats: TestNats;
let store: EventStore<DomainEvent>;
let dir: string;
let file: string;
let digest: string;
const SIZE = 3 * 1024 * 1024 + 12345;

before(async () => {
  nats = await startTestNats(vnetTopology());
  store = await nats.connect(domainEventCodec, 'images-int');
  dir = mkdtempSync(join(tmpdir(), 'vnet-images-'));
  file = join(dir, 'disk.img');
  const bytes = randomBytes(SIZE);
  writeFileSync(file, bytes);
  digest = createHash('sha256').update(bytes).digest('hex');
});

after(async () => {
  await store?.close();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('image buckets', () => {
  it('uploads a file with progress, and the stored bytes have its digest', async () => {
    assert.deepEqual(await fileDigest(file), { digest, size: SIZE });
    assert.equal(await openImageBucket(store, 'r1', false), undefined, 'no bucket before');
    const r1 = (await openImageBucket(store, 'r1', true))!;
    assert.equal((await r1.status()).bucket, imageBucketOf('r1'));
    const seen: number[] = [];
    const up = await putImageFile(r1, 'img-1', file, { onProgress: (n) => seen.push(n), progressEveryMs: 0 });
    assert.equal(up.digest, digest);
    assert.equal(up.size, SIZE);
    assert.equal(seen.at(-1), SIZE);
    assert.ok(seen.length >= 4, 'progress along the way');
    assert.deepEqual(await storedDigest(r1, 'img-1'), { digest, size: SIZE });
  });

  it('copies to another region keeping the digest, at the rate asked for', async () => {
    
    const r1 = (await openImageBucket(store, 'r1', false))!;
    const r2 = (await openImageBucket(store, 'r2', true))!;
    const t0 = Date.now();
    const copied = await copyImage(r1, r2, 'img-1', { rateMiBps: 8 });
    const ms = Date.now() - t0;
    assert.equal(copied.digest, digest);
    assert.deepEqual(await storedDigest(r2, 'img-1'), { digest, size: SIZE });
    assert.ok(ms >= 300, `3 MiB at 8 MiB/s takes about 400 ms, took ${ms}`);
  });

  it('a copy cut off half way leaves no object in the target', async () => {
    
    const r1 = (await openImageBucket(store, 'r1', false))!;
    const r3 = (await openImageBucket(store, 'r3', true))!;
    const ac = new AbortController();
    const copy = copyImage(r1, r3, 'img-1', { rateMiBps: 4, signal: ac.signal, onProgress: (n) => n > 1024 * 1024 && ac.abort(), progressEveryMs: 0 });
    await assert.rejects(copy);
    assert.equal(await r3.info('img-1'), null, 'no object under the name');
    assert.equal(await storedDigest(r3, 'img-1'), undefined);
  });
});
