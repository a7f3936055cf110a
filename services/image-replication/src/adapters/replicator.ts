/**
 * The image-replication loop: keeps the global image catalogue (a fold of `vnet.evt.image.>`,
 * rebuilt at start and followed live) and answers `ImageReplicationRequested` through a
 * durable subscription shared by all instances (requests of one image one at a time).
 *
 * - Copy once: a copy begins with `ImageReplicationStarted`, written expecting the image's
 *   revision. Of concurrent requests (here or in another instance) one writes it; the others
 *   then see the copy under way and do nothing.
 * - The copy streams the bytes from a region that has the image to the target region's
 *   bucket, hashing them, with `ImageReplicationProgress` along the way (at most every
 *   `progressEveryMs`). `ImageReplicated` is written only when the digest of the bytes
 *   copied is the one uploaded; a mismatch deletes the copy and writes
 *   `ImageReplicationFailed` (digest-mismatch).
 * - Interrupted copies: an object appears in a bucket only once complete, so a copier that
 *   dies leaves nothing readable. A copy not heard of for `staleMs` is begun again (next
 *   attempt) by whichever instance notices first (a watchdog, and any new request).
 */
import {
  mustDecode,
  newEvent,
  NonNegativeInt,
  PositiveInt,
  streamNameOf,
  type DomainEvent,
  type EventId,
  type ImageId,
  type RegionId,
} from '@vnet/events';
import { describeAppendError, type EventStore, type Subscription } from '@vnet/eventstore';
import { copyImage, openImageBucket } from '@vnet/images';
import { derivedEventId } from '@vnet/runner';
import * as E from 'fp-ts/lib/Either.js';
import { decideCopy, evolve, isImageEvent, type Catalogue } from '../domain/catalogue';

export interface ReplicatorOptions {
  /** A copy not heard of for this long is begun again (default 10 s). */
  readonly staleMs?: number;
  /** Copy at most this many MiB/s (0: as fast as it goes). */
  readonly rateMiBps?: number;
  readonly progressEveryMs?: number;
  readonly replicas?: number;
  readonly onError?: (e: Error) => void;
  readonly onCopied?: (bytes: number, ms: number) => void;
}

export interface Replicator {
  readonly catalogue: Catalogue;
  /** Copies running in this process. */
  running(): number;
  stop(): Promise<void>;
  /** Rejects when the replicator stops by itself; resolves after `stop`. */
  readonly done: Promise<void>;
}

interface Cause {
  readonly id: EventId;
  readonly correlationId: EventId;
}

export async function startReplicator(store: EventStore<DomainEvent>, o: ReplicatorOptions = {}): Promise<Replicator> {
  const staleMs = o.staleMs ?? 10_000;
  const onError = o.onError ?? (() => undefined);
  const catalogue: Catalogue = new Map();
  let position = 0;
  const fold = (e: DomainEvent, pos: number): void => {
    position = Math.max(position, pos);
    if (isImageEvent(e)) evolve(catalogue, e, pos);
  };
  for await (const r of store.readAll({ filter: 'vnet.evt.image.>' })) fold(r.event, r.position);

  const catchUp = async (imageId: string): Promise<void> => {
    const from = (catalogue.get(imageId)?.revision ?? 0) + 1;
    for await (const r of store.readStream(`image.${imageId}`, { fromRevision: from })) fold(r.event, r.position);
  };

  /** Appends an event on its image's subject; with `expected`, only if the image is still at that revision. */
  const append = async (ev: DomainEvent & { readonly payload: { readonly imageId: string } }, expected?: number): Promise<'written' | 'conflict'> => {
    const r = await store.appendToStream(streamNameOf(ev), [ev], expected === undefined ? {} : { expectedRevision: expected });
    if (E.isRight(r)) {
      // With an expectation nothing came in between; without one, the image is read up to
      // date (folding only our event would skip another writer's).
      if (expected !== undefined && r.right.duplicates === 0) fold(ev, r.right.positions[0]!);
      else await catchUp(ev.payload.imageId);
      return 'written';
    }
    if (r.left._tag === 'WrongExpectedVersion') return 'conflict';
    throw new Error(`could not write ${ev.type}: ${describeAppendError(r.left)}`);
  };

  const copies = new Map<string, AbortController>();
  let stopping = false;

  const runCopy = async (imageId: string, from: string, to: string, attempt: number, cause: Cause): Promise<void> => {
    const key = `${imageId}/${to}`;
    const ac = new AbortController();
    copies.set(key, ac);
    const img = catalogue.get(imageId)!;
    const t0 = Date.now();
    const id = (type: string, k: string) => derivedEventId('image-replication', cause.id, type, `${key}/${attempt}/${k}`);
    const meta = { causationId: cause.id, correlationId: cause.correlationId };
    const fail = async (reason: 'digest-mismatch' | 'copy-error', detail: string) => {
      await append({
        ...newEvent('ImageReplicationFailed', { imageId: img.imageId as ImageId, toRegionId: to as RegionId, attempt: mustDecode(NonNegativeInt, attempt), reason, detail }, meta),
        id: id('ImageReplicationFailed', ''),
      });
    };
    try {
      const src = await openImageBucket(store, from, false);
      if (!src) throw new Error(`region ${from} has no image bucket`);
      const dst = (await openImageBucket(store, to, true, o.replicas))!;
      let lastReport = Promise.resolve<unknown>(undefined);
      const copied = await copyImage(src, dst, imageId, {
        signal: ac.signal,
        ...(o.rateMiBps ? { rateMiBps: o.rateMiBps } : {}),
        progressEveryMs: o.progressEveryMs ?? 500,
        onProgress: (n) => {
          // Another copier took this copy over (this one was thought dead): stop.
          const now = catalogue.get(imageId)?.regions.get(to);
          if (now && now.attempt > attempt) ac.abort();
          if (n >= img.size) return; // the end is ImageReplicated itself
          const ev = newEvent(
            'ImageReplicationProgress',
            { imageId: img.imageId as ImageId, toRegionId: to as RegionId, attempt: mustDecode(PositiveInt, attempt), copied: mustDecode(NonNegativeInt, n), size: mustDecode(PositiveInt, img.size) },
            meta,
          );
          lastReport = lastReport.then(() => append({ ...ev, id: id('ImageReplicationProgress', String(n)) })).catch((e: unknown) => onError(e instanceof Error ? e : new Error(String(e))));
        },
      });
      await lastReport;
      if (copied.digest !== img.digest || copied.size !== img.size) {
        await dst.delete(imageId).catch(() => undefined);
        await fail('digest-mismatch', `copied ${copied.size} bytes with sha256 ${copied.digest}; the catalogue has ${img.size} bytes, ${img.digest}`);
        return;
      }
      const took = Date.now() - t0;
      o.onCopied?.(copied.size, took);
      // Ready only if this attempt is still the one under way (not taken over meanwhile),
      // written against the image's revision.
      for (let conflicts = 0; ; conflicts++) {
        await catchUp(imageId);
        const now = catalogue.get(imageId)?.regions.get(to);
        if (now?.status !== 'copying' || now.attempt !== attempt) return;
        const ready = {
          ...newEvent(
            'ImageReplicated',
            {
              imageId: img.imageId as ImageId,
              fromRegionId: from as RegionId,
              regionId: to as RegionId,
              digest: img.digest as never,
              size: mustDecode(PositiveInt, img.size),
              attempt: mustDecode(PositiveInt, attempt),
              tookMs: mustDecode(NonNegativeInt, took),
            },
            meta,
          ),
          id: id('ImageReplicated', ''),
        };
        if ((await append(ready, catalogue.get(imageId)!.revision)) === 'written') return;
        if (conflicts >= 20) throw new Error(`could not mark ${imageId} ready in ${to}: still conflicting`);
      }
    } catch (e) {
      // Stopping: the copy is left unfinished (nothing visible in the target); the next
      // instance begins it again once it is stale.
      if (stopping) return;
      // Taken over by another copier (see onProgress): its attempt goes on.
      await catchUp(imageId).catch(() => undefined);
      if ((catalogue.get(imageId)?.regions.get(to)?.attempt ?? 0) > attempt) return;
      const why = e instanceof Error ? e.message : String(e);
      onError(new Error(`copy of ${imageId} from ${from} to ${to} (attempt ${attempt}) failed: ${why}`));
      await fail('copy-error', why).catch((err: unknown) => onError(err instanceof Error ? err : new Error(String(err))));
    } finally {
      copies.delete(key);
    }
  };

  /** Makes sure the image is (or gets) in the region. */
  const request = async (imageId: string, regionId: string, cause: Cause): Promise<void> => {
    for (let conflicts = 0; conflicts < 20; conflicts++) {
      await catchUp(imageId);
      if (copies.has(`${imageId}/${regionId}`)) return; // this process is at it
      const d = decideCopy(catalogue, imageId, regionId, Date.now(), staleMs);
      if (d.kind === 'nothing') return;
      const img = catalogue.get(imageId);
      const expected = img?.revision ?? 0;
      if (d.kind === 'fail') {
        const ev = newEvent(
          'ImageReplicationFailed',
          { imageId: imageId as ImageId, toRegionId: regionId as RegionId, attempt: mustDecode(NonNegativeInt, d.attempt), reason: d.reason, detail: d.detail },
          { causationId: cause.id, correlationId: cause.correlationId },
        );
        if ((await append({ ...ev, id: derivedEventId('image-replication', cause.id, ev.type, `${imageId}/${regionId}`) }, expected)) === 'written') return;
        continue;
      }
      // A random id: of two copiers racing for the same attempt, the revision decides.
      const started = newEvent(
        'ImageReplicationStarted',
        { imageId: imageId as ImageId, fromRegionId: d.from as RegionId, toRegionId: regionId as RegionId, size: mustDecode(PositiveInt, img!.size), attempt: mustDecode(PositiveInt, d.attempt) },
        { causationId: cause.id, correlationId: cause.correlationId },
      );
      if ((await append(started, expected)) === 'conflict') continue;
      void runCopy(imageId, d.from, regionId, d.attempt, cause);
      return;
    }
    throw new Error(`request for ${imageId} in ${regionId}: still conflicting after 20 attempts`);
  };

  // Live: other instances' progress and results.
  const ac = new AbortController();
  const reader = store
    .forEachEvent({ filter: 'vnet.evt.image.>', fromPosition: position + 1, live: true, signal: ac.signal }, (r) => fold(r.event, r.position))
    .catch((err: unknown) => {
      if (!ac.signal.aborted) onError(new Error(`image catalogue reader stopped: ${err instanceof Error ? err.message : String(err)}`));
    });

  const sub: Subscription = await store.subscribe(
    { name: 'image-replication', filter: 'vnet.evt.image.>', ackWaitMs: 30_000, maxDeliver: 10 },
    async (r) => {
      const e = r.event;
      if (e.type === 'ImageReplicationRequested') await request(e.payload.imageId, e.payload.regionId, e);
    },
    { key: (r) => (isImageEvent(r.event) ? r.event.payload.imageId : ''), maxInFlight: 64 },
  );

  // Watchdog: copies whose copier went quiet are begun again.
  const watchdog = setInterval(() => {
    const now = Date.now();
    for (const img of catalogue.values()) {
      for (const [region, x] of img.regions) {
        if (x.status !== 'copying' || now - x.lastHeardMs < staleMs || copies.has(`${img.imageId}/${region}`)) continue;
        const id = derivedEventId('image-replication', `${img.imageId}/${region}/${x.attempt}`, 'takeover', '');
        request(img.imageId, region, { id, correlationId: id }).catch((e: unknown) => onError(e instanceof Error ? e : new Error(String(e))));
      }
    }
  }, Math.max(100, Math.floor(staleMs / 2)));

  let stopped = false;
  return {
    catalogue,
    running: () => copies.size,
    done: Promise.race([sub.done, reader]).then(() => {
      if (!stopped) throw new Error('the request subscription or the catalogue reader ended');
    }),
    stop: async () => {
      stopped = true;
      stopping = true;
      clearInterval(watchdog);
      await sub.stop();
      for (const c of copies.values()) c.abort();
      ac.abort();
      await reader;
    },
  };
}
