/**
 * Snapshots: a read model's bytes together with the log position they reflect, kept in a
 * JetStream object store (`vnet_snapshots`; chunked, SHA-256 checked on read, so a snapshot
 * of many MiB is fine). A restart loads the snapshot and reads only the log after `position`.
 * Saving replaces the previous snapshot of the same name in one step.
 */
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

/** Stores `data` as the snapshot `name` at log `position`. */
export async function saveSnapshot<Ev>(ctx: StoreContext<Ev>, name: string, position: number, data: Uint8Array): Promise<void> {
  const os = (await bucket(ctx, true))!;
  await os.putBlob({ name, description: JSON.stringify({ position, takenAt: new Date().toISOString() }) }, data);
}

/** The latest snapshot `name`, or undefined when there is none. */
export async function loadSnapshot<Ev>(ctx: StoreContext<Ev>, name: string): Promise<Snapshot | undefined> {
  const os = await bucket(ctx, false);
  if (!os) return undefined;
  const info = await os.info(name);
  if (!info || info.deleted) return undefined;
  const data = await os.getBlob(name);
  if (!data) return undefined;
  const meta = JSON.parse(info.description ?? '{}') as { position?: number; takenAt?: string };
  if (typeof meta.position !== 'number') throw new Error(`snapshot ${name} has no position in its description`);
  return { position: meta.position, data, takenAt: new Date(meta.takenAt ?? info.mtime) };
}
