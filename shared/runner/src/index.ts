/**
 * The loop of a deciding service (mapping, authorization, …): rebuild the state from the
 * log, write what a crash left unwritten, then follow the log through a durable
 * subscription and append the decider's answers.
 *
 * Exactly-once effect on an at-least-once log:
 * - Output ids are derived from the input id (`derivedEventId`), so writing a decision again
 *   is deduplicated by the store (`Nats-Msg-Id`) within its 1 h window.
 * - On start the log is read twice (see `rebuild`): every input is decided again and the
 *   state is built from what the log holds for it; a predicted output the log does not hold
 *   was never written (the service was down, or died mid-decision) and is appended then.
 *   So a restart writes no decision twice, however long after the crash.
 * - The subscription skips every position the rebuild covered; after that it handles events
 *   in log order, and an input's outputs are written before its message is acked. A failed
 *   append is retried in place (order matters).
 * One instance at a time: the decisions depend on the order of all inputs, so the shared
 * consumer is not for scale-out here (a second instance would split the order).
 */
import { createHash } from 'node:crypto';
import * as E from 'fp-ts/lib/Either.js';
import { causedBy, CURRENT_VERSIONS, domainEventCodec, streamNameOf, type DomainEvent, type EventId, type EventType } from '@vnet/events';
import { ALL_EVENTS, describeAppendError, isRetryable, LOG_STREAM, type EventStore, type Subscription } from '@vnet/eventstore';
import type { Logger } from '@vnet/service-kit';

/** A decision: an output event's type and payload (the runner adds the envelope). */
export interface Decision {
  readonly type: EventType;
  readonly payload: unknown;
}

/** What a deciding service is, for the runner. */
export interface DeciderSpec<S, I extends DomainEvent, O extends Decision> {
  /** Service name: the durable subscription's name and the namespace of derived ids. */
  readonly name: string;
  readonly initial: () => S;
  readonly isInput: (ev: DomainEvent) => ev is I;
  readonly isOutput: (ev: DomainEvent) => boolean;
  /** Pure: the same state and input give the same decisions in the same order. */
  readonly decide: (s: S, input: I) => readonly O[];
  /** The state after an input and its decisions. */
  readonly apply: (s: S, input: I, decisions: readonly O[]) => S;
  /** Distinguishes the decisions of one input that have the same type (e.g. the VM id). */
  readonly outputKey: (o: O) => string;
  /**
   * For a decider whose decisions hold fresh randomness (keys) and keep secrets out of the
   * payload: folds one of its outputs as stored in the log (e.g. opens a sealed key). Called
   * after `apply` for the stored outputs of each input on rebuild, and for every output the
   * subscription sees live, so the state holds what the log holds.
   */
  readonly foldOutput?: (s: S, output: DomainEvent) => S;
  /**
   * Rebuild: decide again the inputs whose outputs the log already holds (default true: a
   * changed decider shows up as `diverged`). False for a decider whose decisions are costly
   * and random anyway (keys): those inputs get their stored outputs applied without deciding,
   * so a restart costs what folding the log costs; inputs with no stored output are still
   * decided (what a crash left unwritten is written).
   */
  readonly redecideOnRebuild?: boolean;
  readonly ackWaitMs?: number;
  readonly maxDeliver?: number;
}

/**
 * The id of an output: a name-based UUID (version 8, RFC 9562 §5.8) from SHA-256 of
 * (service, input id, output type, key). Deciding the same input again gives the same ids.
 */
export function derivedEventId(service: string, inputId: string, type: string, key: string): EventId {
  const h = createHash('sha256').update(`vnet.${service}\n${inputId}\n${type}\n${key}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x80; // version 8
  h[8] = (h[8]! & 0x3f) | 0x80; // RFC variant
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}` as EventId;
}

/** The envelopes of an input's decisions: derived ids, caused by the input, stamped `at`. */
export function materialize<S, I extends DomainEvent, O extends Decision>(spec: DeciderSpec<S, I, O>, input: I, decisions: readonly O[], at: Date): DomainEvent[] {
  const occurredAt = at.toISOString();
  return decisions.map(
    (d) =>
      ({
        type: d.type,
        schemaVersion: CURRENT_VERSIONS[d.type],
        id: derivedEventId(spec.name, input.id, d.type, spec.outputKey(d)),
        ...causedBy(input),
        occurredAt,
        payload: d.payload,
      }) as DomainEvent,
  );
}

/** What the rebuild found. */
export interface Rebuilt<S> {
  readonly state: S;
  /** Last log position read (0 for an empty log). */
  readonly position: number;
  /** Outputs decided but not in the log, in input order. */
  readonly missing: readonly DomainEvent[];
  readonly inputs: number;
  /** Inputs decided again (all of them, unless `redecideOnRebuild` is false). */
  readonly redecided: number;
  /** Inputs whose stored outputs differ from today's decision (a changed decider). */
  readonly diverged: number;
  /** Records this build cannot decode, skipped (the subscription dead-letters them). */
  readonly undecodable: number;
}

/** The decodable records of the log, in order (undecodable ones counted and skipped). */
async function* logRecords(store: EventStore<DomainEvent>, log: Logger | undefined, skipped: { n: number }): AsyncGenerator<{ position: number; ev: DomainEvent }> {
  for await (const raw of store.readRaw({ stream: LOG_STREAM, filter: ALL_EVENTS })) {
    const decoded = domainEventCodec.decode(raw.data);
    if (E.isLeft(decoded)) {
      skipped.n++;
      log?.warn({ position: raw.position, subject: raw.subject, err: decoded.left }, 'skipped a record this build cannot decode');
      continue;
    }
    yield { position: raw.position, ev: decoded.right };
  }
}

/**
 * Reads the log to its end and rebuilds the state without writing, in two passes. The first
 * collects the outputs the log holds, by the input that caused them. The second decides
 * every input again, in order, and applies what the LOG holds for it: the stored outputs in
 * place of the re-decided ones (the same for a deterministic decider; for one whose
 * decisions hold randomness, the stored ones are what the rest of the world received), and
 * only where an output was never stored, the re-decided one, which is then `missing` and
 * gets written. An input whose stored outputs differ from its re-decision (a changed
 * decider) keeps exactly what is stored and gets nothing more.
 * Records are decoded here rather than by `readAll`, so that one record this build cannot
 * read (the log is shared) is skipped and counted instead of stopping the service for good.
 */
export async function rebuild<S, I extends DomainEvent, O extends Decision>(
  store: EventStore<DomainEvent>,
  spec: DeciderSpec<S, I, O>,
  log?: Logger,
  now = new Date(),
): Promise<Rebuilt<S>> {
  const skipped = { n: 0 };
  // Pass 1: input id → its stored outputs (in log order).
  const stored = new Map<string, DomainEvent[]>();
  for await (const { ev } of logRecords(store, log, skipped)) {
    if (!spec.isInput(ev) && spec.isOutput(ev) && ev.causationId !== null) {
      const list = stored.get(ev.causationId);
      if (list) list.push(ev);
      else stored.set(ev.causationId, [ev]);
    }
  }
  // Pass 2: decide again, apply what the log says.
  skipped.n = 0;
  let state = spec.initial();
  let position = 0;
  let inputs = 0;
  let redecided = 0;
  let diverged = 0;
  const missing: DomainEvent[] = [];
  for await (const { position: at, ev } of logRecords(store, log, skipped)) {
    position = at;
    if (!spec.isInput(ev)) continue;
    inputs++;
    const kept = stored.get(ev.id);
    if (kept && spec.redecideOnRebuild === false) {
      state = spec.apply(state, ev, kept.map((o) => ({ type: o.type, payload: o.payload }) as unknown as O));
      for (const o of kept) if (spec.foldOutput) state = spec.foldOutput(state, o);
      continue;
    }
    redecided++;
    const decisions = spec.decide(state, ev);
    const envelopes = materialize(spec, ev, decisions, now);
    const have = stored.get(ev.id) ?? [];
    const byId = new Map(have.map((o) => [o.id, o]));
    const predicted = new Set(envelopes.map((o) => o.id));
    let effective: readonly O[];
    if (have.some((o) => !predicted.has(o.id))) {
      diverged++;
      effective = have.map((o) => ({ type: o.type, payload: o.payload }) as unknown as O);
    } else {
      effective = decisions.map((d, i) => {
        const s = byId.get(envelopes[i]!.id);
        if (s) return { type: s.type, payload: s.payload } as unknown as O;
        missing.push(envelopes[i]!);
        return d;
      });
    }
    state = spec.apply(state, ev, effective);
    for (const o of have) if (spec.foldOutput) state = spec.foldOutput(state, o);
  }
  return { state, position, missing, inputs, redecided, diverged, undecodable: skipped.n };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Appends events, grouped by stream (order kept within each), retrying what the store could
 * not take until it does or `signal` aborts; a refusal that no retry fixes throws.
 */
export async function appendAll(store: EventStore<DomainEvent>, events: readonly DomainEvent[], log: Logger, signal?: AbortSignal): Promise<void> {
  let groups = new Map<string, DomainEvent[]>();
  for (const ev of events) {
    const name = streamNameOf(ev);
    const group = groups.get(name);
    if (group) group.push(ev);
    else groups.set(name, [ev]);
  }
  for (let attempt = 1; groups.size > 0; attempt++) {
    const entries = [...groups];
    const results = await Promise.all(entries.map(([name, evs]) => store.appendToStream(name, evs)));
    const failed = new Map<string, DomainEvent[]>();
    results.forEach((r, i) => {
      if (E.isRight(r)) return;
      if (!isRetryable(r.left)) throw new Error(`output refused by the store: ${describeAppendError(r.left)}`);
      failed.set(entries[i]![0], entries[i]![1]);
      if (attempt === 1 || attempt % 20 === 0) log.warn({ stream: entries[i]![0], attempt, err: describeAppendError(r.left) }, 'append failed; retrying');
    });
    groups = failed;
    if (groups.size === 0) return;
    if (signal?.aborted) throw new Error('stopping with outputs unwritten (they are written on the next start)');
    await sleep(Math.min(2000, 50 * attempt));
  }
}

/** A running deciding service. */
export interface Runner<S> {
  /** The current state (read-only for callers). */
  state(): S;
  readonly subscription: Subscription;
  /** What the rebuild on start found. */
  readonly rebuilt: Rebuilt<S>;
  stop(): Promise<void>;
}

/** Hooks for metrics. */
export interface RunnerHooks<S> {
  /** After outputs were written (on start: the completed ones). */
  readonly written?: (outputs: readonly DomainEvent[], state: S) => void;
  /** After each log position was handled. */
  readonly position?: (position: number) => void;
}

/** Rebuilds, completes, and subscribes. */
export async function startRunner<S, I extends DomainEvent, O extends Decision>(
  store: EventStore<DomainEvent>,
  spec: DeciderSpec<S, I, O>,
  log: Logger,
  hooks: RunnerHooks<S> = {},
): Promise<Runner<S>> {
  const started = Date.now();
  const stopping = new AbortController();
  const r = await rebuild(store, spec, log);
  let state = r.state;
  await appendAll(store, r.missing, log, stopping.signal);
  hooks.written?.(r.missing, state);
  hooks.position?.(r.position);
  log.info(
    { position: r.position, inputs: r.inputs, redecided: r.redecided, completed: r.missing.length, diverged: r.diverged, undecodable: r.undecodable, ms: Date.now() - started },
    'state rebuilt from the log',
  );
  if (r.diverged > 0) log.warn({ diverged: r.diverged }, 'stored decisions differ from what this version decides; kept the stored ones');

  // Positions up to `done` are folded; `retry` holds positions whose handling failed and will be redelivered.
  let done = r.position;
  const retry = new Set<number>();
  const subscription = await store.subscribe(
    { name: spec.name, filter: ALL_EVENTS, ackWaitMs: spec.ackWaitMs ?? 10_000, maxDeliver: spec.maxDeliver ?? 5, startFrom: { position: r.position + 1 } },
    async (rec) => {
      if (rec.position <= done && !retry.has(rec.position)) return; // folded already: redelivery or rebuild
      const ev = rec.event;
      // A decision stored by an earlier attempt (a redelivered input re-decided with fresh
      // randomness gets its store write deduplicated): the stored one is what counts.
      if (!spec.isInput(ev) && spec.isOutput(ev) && spec.foldOutput) state = spec.foldOutput(state, ev);
      if (spec.isInput(ev)) {
        const decisions = spec.decide(state, ev);
        const outputs = materialize(spec, ev, decisions, new Date());
        try {
          await appendAll(store, outputs, log, stopping.signal);
        } catch (e) {
          retry.add(rec.position);
          throw e;
        }
        retry.delete(rec.position);
        state = spec.apply(state, ev, decisions);
        hooks.written?.(outputs, state);
      }
      done = Math.max(done, rec.position);
      hooks.position?.(done);
    },
  );
  return {
    state: () => state,
    subscription,
    rebuilt: r,
    stop: async () => {
      stopping.abort();
      await subscription.stop();
    },
  };
}

/** What `exitWhenStopped` needs of the service runtime. */
export interface StoppableRuntime {
  readonly log: Logger;
  shutdown(reason: string): Promise<unknown>;
}

/**
 * If the runner's subscription ever stops on its own, says so and exits with code 1, so a
 * supervisor (or `vnet up`'s warning) restarts the service rather than leaving it deaf.
 */
export function exitWhenStopped(runner: Runner<unknown>, rt: StoppableRuntime, service: string): void {
  runner.subscription.done.then(
    () => undefined,
    async (e: unknown) => {
      rt.log.fatal({ err: e }, `${service} subscription stopped`);
      await rt.shutdown('subscription failed');
      process.exit(1);
    },
  );
}
