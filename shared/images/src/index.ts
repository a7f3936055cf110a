/**
 * VM image bytes in JetStream object stores, one bucket per region (`vnet_images_<region>`,
 * object name = image id). Shared by `vnet image push` (upload) and the image-replication
 * service (copy between regions), so both name, chunk and check images the same way.
 *
 * - Uploads and copies stream the bytes (never the whole image in memory) and compute the
 *   SHA-256 as they go; progress is reported by bytes.
 * - An object appears in a bucket only when its last chunk and its metadata are stored: a
 *   put that is interrupted leaves no object under the name (the object store writes the
 *   metadata last), so a reader never sees half an image.
 * - A copy can be throttled (MiB/s), for replication that must not eat a link.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { JetStreamClient } from '@nats-io/jetstream';
import { Objm, type ObjectInfo, type ObjectStore } from '@nats-io/obj';

/** Chunks of 1 MiB (the object store's default is 128 KiB): fewer messages per image. */
export const IMAGE_CHUNK = 1024 * 1024;

/** The object store bucket of a region's images. */
export const imageBucketOf = (regionId: string): string => `vnet_images_${regionId}`;

/** Opens a region's image bucket; creates it when `create` (else undefined when it does not exist). */
export async function openImageBucket(js: JetStreamClient, regionId: string, create: boolean, replicas = 1): Promise<ObjectStore | undefined> {
  const objm = new Objm(js);
  const name = imageBucketOf(regionId);
  try {
    const os = await objm.open(name);
    await os.status(); // fails when the bucket does not exist
    return os;
  } catch {
    if (!create) return undefined;
    return objm.create(name, { description: `VM images of region ${regionId}`, replicas });
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
  for await (const chunk of createReadStream(path, { highWaterMark: IMAGE_CHUNK })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).byteLength;
  }
  return { digest: hash.digest('hex'), size };
}

/** Uploads a file as image `imageId` into `bucket`. */
export async function putImageFile(bucket: ObjectStore, imageId: string, path: string, o: TransferOptions = {}): Promise<Transferred> {
  const { size: expected } = await stat(path);
  const m = metered(createReadStream(path, { highWaterMark: IMAGE_CHUNK }), o);
  const info = await bucket.put({ name: imageId, description: `VM image ${imageId}`, options: { max_chunk_size: IMAGE_CHUNK } }, m.stream);
  const r = m.result();
  if (r.size !== expected) throw new Error(`${path} changed while it was uploaded (${r.size} bytes read, ${expected} expected)`);
  return { ...r, info };
}

/**
 * Copies image `imageId` from one bucket to another, hashing the bytes on the way. The copy
 * is complete (and the object visible) only when `put` returns; the caller checks the digest.
 */
export async function copyImage(from: ObjectStore, to: ObjectStore, imageId: string, o: TransferOptions = {}): Promise<Transferred> {
  const got = await from.get(imageId);
  if (!got) throw new Error(`image ${imageId} is not in the source bucket`);
  const m = metered(Readable.fromWeb(got.data as never) as AsyncIterable<Uint8Array>, o);
  const info = await to.put({ name: imageId, description: `VM image ${imageId}`, options: { max_chunk_size: IMAGE_CHUNK } }, m.stream);
  const err = await got.error;
  if (err) {
    await to.delete(imageId).catch(() => undefined);
    throw new Error(`reading ${imageId} from the source failed: ${err.message}`);
  }
  return { ...m.result(), info };
}

/** SHA-256 (hex) and size of an image as stored in a bucket (read back in full), or undefined when absent. */
export async function storedDigest(bucket: ObjectStore, imageId: string): Promise<{ digest: string; size: number } | undefined> {
  const got = await bucket.get(imageId);
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
