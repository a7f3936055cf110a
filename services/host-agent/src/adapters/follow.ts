/**
 * Follows the host's slice of the log into its tables: `hostvms.<host>` (which VMs run here)
 * and, for each VNI with a local VM, `vni.<vni>` (one ordered reader per VNI: JetStream 2.9
 * takes one filter per consumer). Readers hand events over with `forEachEvent` (a handler,
 * no promise per event): a cold start folds a million events. Starts from the latest snapshot when there is one and
 * saves a new snapshot every `snapshotEvery` events, so a restart reads only the tail.
 */
import { performance } from 'node:perf_hooks';
import type { DomainEvent, EventOf } from '@vnet/events';
import type { EventStore, RecordedEvent } from '@vnet/eventstore';
import { decodeTables, encodeTables } from '../domain/snapshot';
import { evolve, initialTables, servedVnis, type HostTables, type TableEvent } from '../domain/table';

export interface FollowOptions {
  readonly store: EventStore<DomainEvent>;
  readonly hostId: string;
  /** Save a snapshot after this many folded events (0: never). Default 10,000. */
  readonly snapshotEvery?: number;
  /** Snapshot name; `host-tables.<hostId>` by default. */
  readonly snapshotName?: string;
  /** Load the snapshot on start (default true). */
  readonly useSnapshot?: boolean;
  /** Called (coalesced, at most once per event-loop turn) after the tables changed. */
  readonly onChange?: (tables: HostTables) => void;
  readonly onError?: (e: unknown) => void;
  /** Each `VmMoved` folded (replayed ones too: the callee looks at the time), after the tables took it. */
  readonly onMoved?: (moved: EventOf<'VmMoved'>) => void;
}

export interface Follower {
  tables(): HostTables;
  /** Events folded since start. */
  folded(): number;
  /** Position the tables were restored from (0: no snapshot). */
  readonly restoredFrom: number;
  /** How the restore went: snapshot bytes, ms to load them from the store and to decode them. */
  readonly restore: { readonly bytes: number; readonly loadMs: number; readonly decodeMs: number };
  /** Resolves when `pred(tables)` holds, rejects after `timeoutMs`. */
  until(pred: (t: HostTables) => boolean, timeoutMs?: number): Promise<void>;
  /** Saves a snapshot now. */
  snapshot(): Promise<void>;
  stop(): Promise<void>;
}

/** The table events this agent folds, or undefined for any other event. */
function toTableEvent(r: RecordedEvent<DomainEvent>): TableEvent | undefined {
  const e = r.event;
  switch (e.type) {
    case 'HostVmAttached':
    case 'HostVmDetached':
    case 'VmMappingAdded':
    case 'VmMappingRemoved':
      return { type: e.type, payload: e.payload, position: r.position } as TableEvent;
    case 'VmMoved':
      return { type: e.type, payload: e.payload, position: r.position };
    default:
      return undefined;
  }
}

/** How long a failed reader waits before it starts again. */
const RETRY_MS = 1000;

/**
 * How long the reader of a VNI no longer served keeps reading, for `VmMoved` only: when a
 * host's last VM of a VNI migrates away, the detach (on `hostvms.<host>`) may be read before
 * the switch (on `vni.<vni>`), and the source must still see the switch to forward.
 */
const LINGER_MS = 5000;

export async function startFollowing(o: FollowOptions): Promise<Follower> {
  const name = o.snapshotName ?? `host-tables.${o.hostId}`;
  const t0 = performance.now();
  let snap = o.useSnapshot === false ? undefined : await o.store.loadSnapshot(name);
  const t1 = performance.now();
  const restore = { bytes: snap?.data.byteLength ?? 0, loadMs: Math.round(t1 - t0), decodeMs: 0 };
  let tables = initialTables(o.hostId);
  if (snap) {
    try {
      tables = decodeTables(snap.data);
      restore.decodeMs = Math.round(performance.now() - t1);
      if (tables.hostId !== o.hostId) throw new Error(`it is for host ${tables.hostId}, not ${o.hostId}`);
    } catch (e) {
      // A snapshot is only a cache of the log: one this build cannot use means a full replay.
      o.onError?.(new Error(`snapshot ${name} not used (${e instanceof Error ? e.message : String(e)}); replaying the log`));
      tables = initialTables(o.hostId);
      snap = undefined;
    }
  }
  let folded = 0;
  let sinceSnapshot = 0;
  let saving: Promise<void> | undefined;
  let changeScheduled = false;
  const waiters = new Set<() => void>();
  const readers = new Map<number, AbortController>();
  /** Readers of VNIs no longer served, still passing on `VmMoved` for a while. */
  const lingering = new Map<number, AbortController>();
  const loops = new Set<Promise<void>>();
  const hostAbort = new AbortController();
  let stopped = false;

  const snapshot = async () => {
    const bytes = encodeTables(tables);
    const position = Math.max(tables.hostPosition, ...[...tables.vnis.values()].map((t) => t.position));
    await o.store.saveSnapshot(name, position, bytes);
    sinceSnapshot = 0;
  };
  const changed = () => {
    for (const w of waiters) w();
    if (!o.onChange || changeScheduled) return;
    changeScheduled = true;
    setImmediate(() => ((changeScheduled = false), o.onChange?.(tables)));
  };
  const fold = (r: RecordedEvent<DomainEvent>) => {
    const e = toTableEvent(r);
    if (!e) return;
    tables = evolve(tables, e);
    if (r.event.type === 'VmMoved') o.onMoved?.(r.event);
    folded++;
    sinceSnapshot++;
    if (o.snapshotEvery !== 0 && sinceSnapshot >= (o.snapshotEvery ?? 10_000) && !saving) {
      saving = snapshot()
        .catch((err) => o.onError?.(err))
        .finally(() => (saving = undefined));
    }
    changed();
  };
  const run = (p: Promise<void>) => {
    loops.add(p);
    p.catch((e) => o.onError?.(e)).finally(() => loops.delete(p));
  };
  /** Starts a reader for each newly served VNI and stops the readers of dropped ones. */
  const syncReaders = () => {
    const served = new Set(servedVnis(tables));
    for (const [vni, ac] of readers) {
      if (served.has(vni)) continue;
      readers.delete(vni);
      lingering.get(vni)?.abort();
      lingering.set(vni, ac);
      setTimeout(() => {
        ac.abort();
        if (lingering.get(vni) === ac) lingering.delete(vni);
      }, LINGER_MS).unref();
    }
    for (const vni of served) {
      if (readers.has(vni)) continue;
      const ac = new AbortController();
      readers.set(vni, ac);
      const from = (tables.vnis.get(vni)?.position ?? 0) + 1;
      run(
        o.store.forEachEvent(
          {
            filter: `vnet.evt.vni.${vni}`,
            fromPosition: from,
            live: true,
            signal: ac.signal,
            // Size the table for the backlog at once rather than growing it on the way (up to a
            // million entries: a long history of adds and removes is not that many entries).
            onBacklog: (n) => {
              const t = tables.vnis.get(vni)?.tunnels;
              t?.reserve(t.size + Math.min(n, 1 << 20));
            },
          },
          (r) => {
            if (readers.get(vni) === ac) fold(r);
            // Dropped meanwhile: a newer reader owns this VNI's table; a lingering one only
            // passes on switches.
            else if (lingering.get(vni) === ac && r.event.type === 'VmMoved') o.onMoved?.(r.event);
          },
        ).catch((e: unknown) => {
          if (ac.signal.aborted || stopped) return;
          // A reader that stopped would leave this VNI's table stale for good: start it again
          // where its table stands.
          if (readers.get(vni) === ac) readers.delete(vni);
          o.onError?.(new Error(`reader of vni.${vni} failed (${e instanceof Error ? e.message : String(e)}); restarting it in ${RETRY_MS} ms`));
          setTimeout(() => stopped || syncReaders(), RETRY_MS).unref();
        }),
      );
    }
  };

  const readHost = (): void =>
    run(
      o.store
        .forEachEvent({ filter: `vnet.evt.hostvms.${o.hostId}`, fromPosition: tables.hostPosition + 1, live: true, signal: hostAbort.signal }, (r) => {
          fold(r);
          syncReaders();
        })
        .catch((e: unknown) => {
          if (hostAbort.signal.aborted || stopped) return;
          o.onError?.(new Error(`reader of hostvms.${o.hostId} failed (${e instanceof Error ? e.message : String(e)}); restarting it in ${RETRY_MS} ms`));
          setTimeout(() => stopped || readHost(), RETRY_MS).unref();
        }),
    );
  syncReaders();
  readHost();

  return {
    tables: () => tables,
    folded: () => folded,
    restoredFrom: snap?.position ?? 0,
    restore,
    snapshot,
    until: (pred, timeoutMs = 10_000) =>
      pred(tables)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const check = () => {
              if (!pred(tables)) return;
              clearTimeout(t);
              waiters.delete(check);
              resolve();
            };
            const t = setTimeout(() => (waiters.delete(check), reject(new Error(`host ${o.hostId}: tables not as expected after ${timeoutMs} ms`))), timeoutMs);
            waiters.add(check);
          }),
    stop: async () => {
      stopped = true;
      hostAbort.abort();
      for (const ac of readers.values()) ac.abort();
      for (const ac of lingering.values()) ac.abort();
      readers.clear();
      lingering.clear();
      await Promise.allSettled([...loops]);
      await saving;
    },
  };
}
