/**
 * The projection runner: folds events into a read model with a pure `evolve`, and keeps the
 * model and the position it reflects together in one KV entry (the checkpoint), written every
 * N events or T ms and on stop. A restart loads the checkpoint and reads only what follows,
 * so an event is folded into a given model state exactly once.
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { StoreContext } from './context';
import { readAll } from './readAll';
import type { RecordedEvent } from './recorded';

/** KV bucket of projection checkpoints. */
export const CHECKPOINT_BUCKET = 'vnet_checkpoints';

export interface ProjectionSpec<S, Ev> {
  /** Unique name: the checkpoint's key. */
  readonly name: string;
  /** One subject filter; every domain event by default. */
  readonly filter?: string;
  readonly initialState: S;
  /** Pure fold. */
  readonly evolve: (state: S, event: RecordedEvent<Ev>) => S;
  /** Checkpoint after this many events (default 1,000)... */
  readonly checkpointEvery?: number;
  /** ...or this many ms after the first unsaved event (default 1,000). */
  readonly checkpointIntervalMs?: number;
  /** Model ↔ JSON (identity by default). */
  readonly serialize?: (state: S) => unknown;
  readonly deserialize?: (json: unknown) => S;
}

/** A running projection. */
export interface Projection<S> {
  /** The model as of `position()`. */
  state(): S;
  /** Position of the last event folded (0 before any). */
  position(): number;
  /** Resolves once the projection has folded `position`, or rejects after `timeoutMs`. */
  waitFor(position: number, timeoutMs?: number): Promise<void>;
  /** Saves a checkpoint now. */
  checkpoint(): Promise<void>;
  /** Stops reading and saves a final checkpoint. */
  stop(): Promise<void>;
  /** Settles when the projection stops; rejects if it failed (e.g. an undecodable event). */
  readonly done: Promise<void>;
}

interface Saved {
  readonly position: number;
  readonly state: unknown;
}

/** Opens the checkpoint bucket; creates it (R1) only when the topology did not. */
async function bucket<Ev>(ctx: StoreContext<Ev>): Promise<KV> {
  const kvm = new Kvm(ctx.js);
  try {
    await ctx.jsm.streams.info(`KV_${CHECKPOINT_BUCKET}`);
    return await kvm.open(CHECKPOINT_BUCKET);
  } catch {
    return kvm.create(CHECKPOINT_BUCKET, { history: 1 });
  }
}

/** Starts a projection from its checkpoint (or from the start) and keeps it live. */
export async function runProjection<S, Ev>(ctx: StoreContext<Ev>, spec: ProjectionSpec<S, Ev>): Promise<Projection<S>> {
  const kv = await bucket(ctx);
  const serialize = spec.serialize ?? ((s: S) => s as unknown);
  const deserialize = spec.deserialize ?? ((j: unknown) => j as S);
  let state = spec.initialState;
  let position = 0;
  const entry = await kv.get(spec.name);
  if (entry && entry.length > 0) {
    const saved = entry.json<Saved>();
    state = deserialize(saved.state);
    position = saved.position;
  }
  let savedPosition = position;
  let firstUnsavedAt = 0;
  const every = spec.checkpointEvery ?? 1000;
  const intervalMs = spec.checkpointIntervalMs ?? 1000;
  const waiters = new Set<{ pos: number; resolve: () => void }>();

  const checkpoint = async (): Promise<void> => {
    if (position === savedPosition) return;
    const at = position;
    await kv.put(spec.name, JSON.stringify({ position: at, state: serialize(state) } satisfies Saved));
    savedPosition = at;
    firstUnsavedAt = 0;
  };
  const timer = setInterval(() => {
    if (firstUnsavedAt && Date.now() - firstUnsavedAt >= intervalMs) void checkpoint().catch(() => undefined);
  }, Math.max(50, Math.floor(intervalMs / 2)));

  const abort = new AbortController();
  const loop = (async () => {
    for await (const rec of readAll(ctx, {
      live: true,
      signal: abort.signal,
      fromPosition: position + 1,
      ...(spec.filter ? { filter: spec.filter } : {}),
    })) {
      if (rec.position <= position) continue; // already folded: idempotent on redelivery
      state = spec.evolve(state, rec);
      position = rec.position;
      if (!firstUnsavedAt) firstUnsavedAt = Date.now();
      if (position - savedPosition >= every) await checkpoint();
      for (const w of waiters) if (position >= w.pos) (waiters.delete(w), w.resolve());
    }
  })();

  // However the loop ends (stop, a closed connection, a failure), the timer goes with it.
  loop.then(
    () => clearInterval(timer),
    () => clearInterval(timer),
  );
  return {
    done: loop,
    state: () => state,
    position: () => position,
    checkpoint,
    waitFor: (pos, timeoutMs = 10_000) =>
      position >= pos
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const w = { pos, resolve: () => (clearTimeout(t), resolve()) };
            const t = setTimeout(() => {
              waiters.delete(w);
              reject(new Error(`projection ${spec.name} did not reach position ${pos} in ${timeoutMs} ms (at ${position})`));
            }, timeoutMs);
            waiters.add(w);
          }),
    stop: async () => {
      abort.abort();
      await loop;
      clearInterval(timer);
      await checkpoint();
    },
  };
}
