/**
 * Large objects (VM images) in JetStream object stores, streamed: uploads from a file and
 * copies between buckets never hold the whole object in memory, compute its SHA-256 on the
 * way, report progress by bytes and can be throttled (MiB/s).
 *
 * An object appears in a bucket only when its last chunk and its metadata are stored: a put
 * that is interrupted leaves no object under the name (the object store writes the metadata
 * last), so a reader never sees half an object.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { Objm, type ObjectInfo, type ObjectStore } from '@nats-io/obj';
import type { StoreContext } from './context';

export type { ObjectInfo, ObjectStore };

/** Chunks of 1 MiB (the object store's default is 128 KiB): fewer messages per object. */
export const OBJECT_CHUNK = 1024 * 1024;

/** Opens an object store bucket; creates it when `create` (else undefined when it does not exist). */
export async function openObjectBucket<Ev>(
  ctx: StoreContext<Ev>,
  name: string,
  o: { readonly create: boolean; readonly description?: string; readonly replicas?: number },
): Promise<ObjectStore | undefined> {
  const objm = new Objm(ctx.js);
  try {
    const os = await objm.open(name);
    await os.status(); // fails when the bucket does not exist
    return os;
  } catch {
    if (!o.create) return undefined;
    return objm.create(name, { description: o.description ?? name, replicas: o.replicas ?? 1 });
  }
}

export interface Transferred {
  /** SHA-256 of the bytes, lowercase hex. */
  readonly digest: string;
  readonly size: number;
  readonly info: ObjectInfo;
}

export interface TransferOptions {
  /** Called with the bytes done so far (at most every `progressEveryMs`, and at the end). */
  readonly onProgress?: (done: number) => void;
  readonly progressEveryMs?: number;
  /** At most this many MiB per second (0 or absent: as fast as it goes). */
  readonly rateMiBps?: number;
  readonly signal?: AbortSignal;
}

/**
 * A web stream of `source`'s chunks that hashes them, counts them, reports progress and keeps
 * to the rate; `result()` gives the digest and size once the stream has been read to its end.
 */
function metered(source: AsyncIterable<Uint8Array>, o: TransferOptions): { stream: ReadableStream<Uint8Array>; result: () => { digest: string; size: number } } {
  const hash = createHash('sha256');
  let size = 0;
  let reported = 0;
  const every = o.progressEveryMs ?? 250;
  const t0 = Date.now();
  const it = source[Symbol.asyncIterator]();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (o.signal?.aborted) {
        controller.error(new Error('transfer aborted'));
        return;
      }
      const { value, done } = await it.next();
      if (done) {
        o.onProgress?.(size);
        controller.close();
        return;
      }
      const chunk = value instanceof Uint8Array ? value : new Uint8Array(value as ArrayBuffer);
      hash.update(chunk);
      size += chunk.byteLength;
      if (o.rateMiBps && o.rateMiBps > 0) {
        const dueMs = (size / (o.rateMiBps * 1024 * 1024)) * 1000 - (Date.now() - t0);
        if (dueMs > 0) await new Promise((r) => setTimeout(r, dueMs));
      }
      const now = Date.now();
      if (now - reported >= every) {
        reported = now;
        o.onProgress?.(size);
      }
      controller.enqueue(chunk);
    },
    async cancel() {
      await it.return?.();
    },
  });
  return { stream, result: () => ({ digest: hash.digest('hex'), size }) };
}

/** SHA-256 (hex) and size of a file, read once. */
export async function fileDigest(path: string): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: OBJECT_CHUNK })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).byteLength;
  }
  return { digest: hash.digest('hex'), size };
}

/** Uploads a file as object `name` into `bucket`. */
export async function putFile(bucket: ObjectStore, name: string, path: string, o: TransferOptions & { readonly description?: string } = {}): Promise<Transferred> {
  const { size: expected } = await stat(path);
  const m = metered(createReadStream(path, { highWaterMark: OBJECT_CHUNK }), o);
  const info = await bucket.put({ name, description: o.description ?? name, options: { max_chunk_size: OBJECT_CHUNK } }, m.stream);
  const r = m.result();
  if (r.size !== expected) throw new Error(`${path} changed while it was uploaded (${r.size} bytes read, ${expected} expected)`);
  return { ...r, info };
}

/**
 * Copies object `name` from one bucket to another, hashing the bytes on the way. The copy is
 * complete (and the object visible) only when this resolves; the caller checks the digest.
 */
export async function copyObject(from: ObjectStore, to: ObjectStore, name: string, o: TransferOptions & { readonly description?: string } = {}): Promise<Transferred> {
  const got = await from.get(name);
  if (!got) throw new Error(`${name} is not in the source bucket`);
  const m = metered(Readable.fromWeb(got.data as never) as AsyncIterable<Uint8Array>, o);
  const info = await to.put({ name, description: o.description ?? got.info.description ?? name, options: { max_chunk_size: OBJECT_CHUNK } }, m.stream);
  const err = await got.error;
  if (err) {
    await to.delete(name).catch(() => undefined);
    throw new Error(`reading ${name} from the source failed: ${err.message}`);
  }
  return { ...m.result(), info };
}

/** SHA-256 (hex) and size of an object as stored in a bucket (read back in full), or undefined when absent. */
export async function objectDigest(bucket: ObjectStore, name: string): Promise<{ digest: string; size: number } | undefined> {
  const got = await bucket.get(name);
  if (!got) return undefined;
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of Readable.fromWeb(got.data as never) as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    size += chunk.byteLength;
  }
  const err = await got.error;
  if (err) throw err;
  return { digest: hash.digest('hex'), size };
}
