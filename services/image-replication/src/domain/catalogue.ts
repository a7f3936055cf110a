/**
 * The global image catalogue: every image, where it was uploaded, its digest and size, and
 * per region whether it is there (ready), on its way (copying: attempt n, last heard of at
 * a time) or failed. A fold of the `image.<id>` subjects; `evolve` updates the catalogue it is
 * given and ignores an event at or before the image's revision.
 *
 * `decideCopy` says what a request for an image in a region needs: nothing (there already, or
 * a copy under way that is alive), a copy from a region that has it (with the next attempt
 * number), or a refusal (unknown image, no region has it, too many attempts).
 */
import type { DomainEvent, EventOf, ImageReplicationFailureReason } from '@vnet/events';

export type RegionCopy =
  | { readonly status: 'ready'; readonly attempt: number; readonly from: string }
  | { readonly status: 'copying'; readonly attempt: number; readonly from: string; readonly lastHeardMs: number; readonly copied: number; readonly size: number }
  | { readonly status: 'failed'; readonly attempt: number; readonly reason: ImageReplicationFailureReason };

export interface ImageEntry {
  readonly imageId: string;
  name: string;
  digest: string;
  size: number;
  uploadedIn: string;
  /** Position of the image's last event. */
  revision: number;
  readonly regions: Map<string, RegionCopy>;
}

export type Catalogue = Map<string, ImageEntry>;

export type ImageEvent = EventOf<'ImageUploaded' | 'ImageReplicationRequested' | 'ImageReplicationStarted' | 'ImageReplicationProgress' | 'ImageReplicated' | 'ImageReplicationFailed'>;
export const isImageEvent = (e: DomainEvent): e is ImageEvent =>
  e.type === 'ImageUploaded' ||
  e.type === 'ImageReplicationRequested' ||
  e.type === 'ImageReplicationStarted' ||
  e.type === 'ImageReplicationProgress' ||
  e.type === 'ImageReplicated' ||
  e.type === 'ImageReplicationFailed';

/** Attempts at copying one image to one region before it is given up. */
export const MAX_ATTEMPTS = 5;

export function evolve(c: Catalogue, e: ImageEvent, position: number): Catalogue {
  const id = e.payload.imageId;
  let img = c.get(id);
  if (img && position <= img.revision) return c;
  if (!img) {
    // Only an upload makes an image; other events before it (a request for an unknown image) keep a placeholder.
    img = { imageId: id, name: '', digest: '', size: 0, uploadedIn: '', revision: 0, regions: new Map() };
    c.set(id, img);
  }
  img.revision = position;
  const at = Date.parse(e.occurredAt);
  switch (e.type) {
    case 'ImageUploaded': {
      const p = e.payload;
      img.name = p.name;
      img.digest = p.digest;
      img.size = p.size;
      img.uploadedIn = p.regionId;
      img.regions.set(p.regionId, { status: 'ready', attempt: 0, from: p.regionId });
      return c;
    }
    case 'ImageReplicationRequested':
      return c;
    case 'ImageReplicationStarted':
      img.regions.set(e.payload.toRegionId, { status: 'copying', attempt: e.payload.attempt, from: e.payload.fromRegionId, lastHeardMs: at, copied: 0, size: e.payload.size });
      return c;
    case 'ImageReplicationProgress': {
      const r = img.regions.get(e.payload.toRegionId);
      if (r?.status === 'copying' && r.attempt === e.payload.attempt) img.regions.set(e.payload.toRegionId, { ...r, lastHeardMs: at, copied: e.payload.copied });
      return c;
    }
    case 'ImageReplicated':
      img.regions.set(e.payload.regionId, { status: 'ready', attempt: e.payload.attempt, from: e.payload.fromRegionId });
      return c;
    case 'ImageReplicationFailed': {
      const r = img.regions.get(e.payload.toRegionId);
      // A late failure of an older attempt does not undo a newer one.
      if (r?.status !== 'ready' && (r === undefined || r.attempt <= e.payload.attempt)) {
        img.regions.set(e.payload.toRegionId, { status: 'failed', attempt: e.payload.attempt, reason: e.payload.reason });
      }
      return c;
    }
    default: {
      const never: never = e;
      return never;
    }
  }
}

export type CopyDecision =
  | { readonly kind: 'nothing'; readonly why: string }
  | { readonly kind: 'copy'; readonly from: string; readonly attempt: number }
  | { readonly kind: 'fail'; readonly reason: ImageReplicationFailureReason; readonly attempt: number; readonly detail: string };

/**
 * What the image needs to be in `regionId` at `nowMs`. A copy not heard of for `staleMs`
 * (its copier died) is begun again with the next attempt.
 */
export function decideCopy(c: Catalogue, imageId: string, regionId: string, nowMs: number, staleMs: number): CopyDecision {
  const img = c.get(imageId);
  if (!img || img.digest === '') return { kind: 'fail', reason: 'unknown-image', attempt: 0, detail: `image ${imageId} was never uploaded` };
  const here = img.regions.get(regionId);
  if (here?.status === 'ready') return { kind: 'nothing', why: `${imageId} is in ${regionId} already` };
  if (here?.status === 'copying' && nowMs - here.lastHeardMs < staleMs) return { kind: 'nothing', why: `${imageId} is on its way to ${regionId} (attempt ${here.attempt})` };
  const attempt = (here?.attempt ?? 0) + 1;
  if (attempt > MAX_ATTEMPTS) return { kind: 'fail', reason: 'too-many-attempts', attempt: attempt - 1, detail: `${attempt - 1} copies of ${imageId} to ${regionId} did not finish` };
  // From where it was uploaded if it is still there, else from any region that has it.
  const ready = [...img.regions].filter(([r, x]) => x.status === 'ready' && r !== regionId).map(([r]) => r);
  const from = ready.includes(img.uploadedIn) ? img.uploadedIn : ready.sort()[0];
  if (from === undefined) return { kind: 'fail', reason: 'no-source', attempt, detail: `no region has ${imageId}` };
  return { kind: 'copy', from, attempt };
}
