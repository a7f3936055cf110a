/**
 * VM image bytes: one object store bucket per region (`vnet_images_<region>`, object name =
 * image id). Shared by `vnet image push` (upload), the image-replication service (copies
 * between regions) and the benchmark, so all name, chunk and check images the same way. The
 * streaming, hashing, progress and throttling are the event store's (`objects.ts`); an
 * interrupted put leaves no object, so a reader never sees half an image.
 */
import type { EventStore, ObjectStore, StorableEvent, TransferOptions, Transferred } from '@vnet/eventstore';
import { copyObject, fileDigest, objectDigest, openObjectBucket, putFile } from '@vnet/eventstore';

export { fileDigest };
export type { ObjectStore, TransferOptions, Transferred };

/** The object store bucket of a region's images. */
export const imageBucketOf = (regionId: string): string => `vnet_images_${regionId}`;

/** Opens a region's image bucket; creates it when `create` (else undefined when it does not exist). */
export function openImageBucket<Ev extends StorableEvent>(store: EventStore<Ev>, regionId: string, create: boolean, replicas = 1): Promise<ObjectStore | undefined> {
  return openObjectBucket(store.unsafeContext(), imageBucketOf(regionId), { create, description: `VM images of region ${regionId}`, replicas });
}

/** Uploads a file as image `imageId`. */
export const putImageFile = (bucket: ObjectStore, imageId: string, path: string, o: TransferOptions = {}): Promise<Transferred> =>
  putFile(bucket, imageId, path, { ...o, description: `VM image ${imageId}` });

/** Copies image `imageId` between two regions' buckets (the caller checks the digest). */
export const copyImage = (from: ObjectStore, to: ObjectStore, imageId: string, o: TransferOptions = {}): Promise<Transferred> =>
  copyObject(from, to, imageId, { ...o, description: `VM image ${imageId}` });

/** SHA-256 (hex) and size of an image as stored (read back in full), or undefined when absent. */
export const storedDigest = (bucket: ObjectStore, imageId: string) => objectDigest(bucket, imageId);
