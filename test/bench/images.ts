/**
 * `npm run bench -- images`: image replication throughput, through the image-replication
 * service (request event → copy with hashing and progress events → `ImageReplicated`), against
 * a raw object-store get + put of the same image between two buckets in the same run.
 *
 * Each run copies the image to a fresh region twice: once raw, once replicated (alternating,
 * so both see the same machine); the figure of each is the median over the runs. The service
 * runs in this process (its real subscription, reader and writer).
 * Target: replicated >= 0.9 of raw. Exits 0 even when the target is missed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import { domainEventCodec, streamNameOf, type DomainEvent } from '@vnet/events';
import { OBJECT_CHUNK, type EventStore } from '@vnet/eventstore';
import { startTestNats, type TestNats } from '@vnet/eventstore/testing';
import { openImageBucket, putImageFile } from '@vnet/images';
import { vnetTopology } from '@vnet/topology';
import { startReplicator, type Replicator } from '../../services/image-replication/src/adapters/replicator';
import { readOptions } from './options';
import { benchEvent, loadNow, printLoad, printTable } from './report';

const TARGET_RATIO = 0.9;
const MIB = 1024 * 1024;

interface Options {
  readonly sizeMiB: number;
  readonly runs: number;
}
const DEFAULTS: Options = { sizeMiB: 64, runs: 5 };

const HELP = `usage: npm run bench -- images [options]

Image replication throughput through the image-replication service (request → copy with
SHA-256 and progress events → ImageReplicated) against a raw object-store get + put of the
same image in the same run. Target: >= ${TARGET_RATIO} of raw.

options:
  --size-mib S   image size in MiB (default ${DEFAULTS.sizeMiB})
  --runs N       copies of each kind, alternating; the median counts (default ${DEFAULTS.runs})
  -h, --help     this text`;

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function append(store: EventStore<DomainEvent>, type: string, payload: Record<string, unknown>): Promise<void> {
  const ev = benchEvent(type, payload);
  const r = await store.appendToStream(streamNameOf(ev), [ev]);
  if (E.isLeft(r)) throw new Error(`${type}: ${JSON.stringify(r.left)}`);
}

export async function run(args: readonly string[]): Promise<number> {
  const read = readOptions(args, { ints: { '--size-mib': ['sizeMiB', 1], '--runs': ['runs', 1] } }, DEFAULTS, HELP);
  if (typeof read === 'number') return read;
  const o: Options = read;
  if (o.sizeMiB > 4096) {
    console.error('--size-mib: at most 4096');
    return 2;
  }
  const loadBefore = loadNow();
  const dir = mkdtempSync(join(tmpdir(), 'vnet-bench-images-'));
  let nats: TestNats | undefined;
  let store: EventStore<DomainEvent> | undefined;
  let replicator: Replicator | undefined;
  try {
    nats = await startTestNats(vnetTopology());
    store = await nats.connect(domainEventCodec, 'bench-images');
    const s = store;
    const file = join(dir, 'bench.img');
    process.stdout.write(`writing and uploading a ${o.sizeMiB} MiB image to region src… `);
    writeFileSync(file, randomBytes(o.sizeMiB * MIB));
    const src = (await openImageBucket(s, 'src', true))!;
    const up = await putImageFile(src, 'bench', file);
    await append(s, 'ImageUploaded', { imageId: 'bench', name: 'bench.img', regionId: 'src', digest: up.digest, size: up.size });
    console.log('done');
    replicator = await startReplicator(s, { staleMs: 60_000 });

    const raw: number[] = [];
    const replicated: number[] = [];
    for (let i = 0; i < o.runs; i++) {
      // Raw: get from the source bucket, put into a fresh one (the same 1 MiB chunks), nothing else.
      const dst = (await openImageBucket(s, `raw${i}`, true))!;
      const t0 = performance.now();
      const got = await src.get('bench');
      if (!got) throw new Error('the image vanished from the source bucket');
      await dst.put({ name: 'bench', options: { max_chunk_size: OBJECT_CHUNK } }, got.data);
      const err = await got.error;
      if (err) throw err;
      raw.push(o.sizeMiB / ((performance.now() - t0) / 1000));
      // Replicated: the request event until ImageReplicated is folded by the service.
      const region = `rep${i}`;
      await openImageBucket(s, region, true); // the bucket exists in both cases
      const t1 = performance.now();
      await append(s, 'ImageReplicationRequested', { imageId: 'bench', regionId: region });
      for (let n = 0; replicator.catalogue.get('bench')?.regions.get(region)?.status !== 'ready'; n++) {
        const st = replicator.catalogue.get('bench')?.regions.get(region);
        if (st?.status === 'failed') throw new Error(`replication to ${region} failed: ${st.reason}`);
        if (n > 600_000) throw new Error(`replication to ${region} did not finish in 10 minutes`);
        await new Promise((r) => setTimeout(r, 1));
      }
      replicated.push(o.sizeMiB / ((performance.now() - t1) / 1000));
      process.stdout.write(`\rruns: ${i + 1}/${o.runs}`);
    }
    process.stdout.write('\n');
    const rawM = median(raw);
    const repM = median(replicated);
    const ratio = repM / rawM;
    const rows = [
      ['copy', 'MiB/s (median)', 'min', 'max', 'ratio', 'target', 'result'],
      ['replicated (service, SHA-256, progress events)', repM.toFixed(1), Math.min(...replicated).toFixed(1), Math.max(...replicated).toFixed(1), ratio.toFixed(2), `>= ${TARGET_RATIO}`, ratio >= TARGET_RATIO ? 'PASS' : 'MISS'],
      ['baseline: raw object-store get + put', rawM.toFixed(1), Math.min(...raw).toFixed(1), Math.max(...raw).toFixed(1), '1.00', '-', '-'],
    ];
    printTable(rows);
    console.log(`- ${o.sizeMiB} MiB image, ${o.runs} copies of each kind alternating; replicated = from the request event being stored to ImageReplicated folded, digest checked.`);
    printLoad(loadBefore);
    return 0;
  } finally {
    await replicator?.stop().catch(() => undefined);
    await store?.close().catch(() => undefined);
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
