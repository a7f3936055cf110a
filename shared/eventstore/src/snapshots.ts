/**
 * Snapshots: a read model's bytes together with the log position they reflect, kept in a
 * JetStream object store (`vnet_snapshots`; chunked, SHA-256 checked on read, so a snapshot
 * of many MiB is fine). A restart loads the snapshot and reads only the log after `position`.
 * Saving replaces the previous snapshot of the same name in one step.
 *
 * The bytes are stored Brotli-compressed at quality 1 (compression runs on libuv's thread
 * pool, not the event loop): a host agent's 22 MB of tables becomes ~4 MB, and reading 4 MB
 * out of the object store is what a restart waits for. Snapshots stored without the
 * `encoding` mark (older builds) are read as they are.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { StoreContext } from './context';

/** Object store bucket of snapshots. */
export const SNAPSHOT_BUCKET = 'vnet_snapshots';

/** A stored snapshot. */
export interface Snapshot {
  /** Log position of the last event folded into `data`. */
  readonly position: number;
  readonly data: Uint8Array;
  readonly takenAt: Date;
}

async function bucket<Ev>(ctx: StoreContext<Ev>, create: boolean): Promise<ObjectStore | undefined> {
  const objm = new Objm(ctx.js);
  try {
    await ctx.jsm.streams.info(`OBJ_${SNAPSHOT_BUCKET}`);
    return await objm.open(SNAPSHOT_BUCKET);
  } catch {
    return create ? objm.create(SNAPSHOT_BUCKET, { description: 'read model snapshots (bytes + log position)' }) : undefined;
  }
}

const compress = promisify(zlib.brotliCompress);
const decompress = promisify(zlib.brotliDecompress);
const BROTLI = 'br';
/** Chunks of 512 KiB (the object store's default is 128 KiB): fewer messages per snapshot. */
const CHUNK = 512 * 1024;

/** What the object's description holds. */
interface Meta {
  readonly position?: number;
  readonly takenAt?: string;
  /** 'br' when the stored bytes are Brotli-compressed; absent: stored as they are. */
  readonly encoding?: string;
  /** Size before compression. */
  readonly size?: number;
}

/** Stores `data` as the snapshot `name` at log `position`. */
export async function saveSnapshot<Ev>(ctx: StoreContext<Ev>, name: string, position: number, data: Uint8Array): Promise<void> {
  const os = (await bucket(ctx, true))!;
  const packed = await compress(data, {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.byteLength },
  });
  const meta: Meta = { position, takenAt: new Date().toISOString(), encoding: BROTLI, size: data.byteLength };
  await os.putBlob({ name, description: JSON.stringify(meta), options: { max_chunk_size: CHUNK } }, packed);
}

/** The latest snapshot `name`, or undefined when there is none. */
export async function loadSnapshot<Ev>(ctx: StoreContext<Ev>, name: string): Promise<Snapshot | undefined> {
  const os = await bucket(ctx, false);
  if (!os) return undefined;
  const info = await os.info(name);
  if (!info || info.deleted) return undefined;
  const stored = await os.getBlob(name);
  if (!stored) return undefined;
  const meta = JSON.parse(info.description ?? '{}') as Meta;
  if (typeof meta.position !== 'number') throw new Error(`snapshot ${name} has no position in its description`);
  let data: Uint8Array = stored;
  if (meta.encoding === BROTLI) data = await decompress(stored, meta.size === undefined ? {} : { maxOutputLength: Math.max(1, meta.size) });
  else if (meta.encoding !== undefined) throw new Error(`snapshot ${name} is stored with encoding ${JSON.stringify(meta.encoding)}, which this build cannot read`);
  if (meta.size !== undefined && data.byteLength !== meta.size) {
    throw new Error(`snapshot ${name}: ${data.byteLength} bytes after decoding, its description says ${meta.size}`);
  }
  return { position: meta.position, data, takenAt: new Date(meta.takenAt ?? info.mtime) };
}
