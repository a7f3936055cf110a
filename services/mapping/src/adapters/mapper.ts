/**
 * The mapping service's loop: rebuild the state from the log, write what a crash left
 * unwritten, then follow the log through the durable subscription `mapping` and append the
 * decider's answers.
 *
 * Exactly-once effect on an at-least-once log:
 * - Output ids are derived from the input id (`ids.ts`), so writing a decision again is
 *   deduplicated by the store (`Nats-Msg-Id`) within its 1 h window.
 * - On start the whole log is read once and every input is decided again (the decider is
 *   pure), which rebuilds the state as of the log's end without writing anything. Outputs
 *   found in the log tick off the ids that decision predicted; what is left over is exactly
 *   what was never written (the service was down, or died mid-decision): it is appended
 *   then. So a restart writes no decision twice, however long after the crash.
 * - The subscription skips every position the rebuild covered; after that it handles events
 *   in log order, and an input's outputs are written before its message is acked. A failed
 *   append is retried in place (order matters: a placement decided after a later host
 *   registration could be decided differently).
 * One instance at a time: the decisions depend on the order of all inputs, so the shared
 * consumer is not for scale-out here (a second instance would split the order).
 */
import * as E from 'fp-ts/lib/Either.js';
import { causedBy, CURRENT_VERSIONS, domainEventCodec, streamNameOf, type DomainEvent } from '@vnet/events';
import { ALL_EVENTS, describeAppendError, isRetryable, LOG_STREAM, type EventStore, type Subscription } from '@vnet/eventstore';
import type { Logger } from '@vnet/service-kit';
import { applyDecision, decide } from '../domain/decider';
import { isInput, isOutput, type MappingInput, type MappingOutput } from '../domain/messages';
import { initialState, type MappingState } from '../domain/state';
import { derivedEventId } from './ids';
import type { MappingMetrics } from './metrics';

/** The durable subscription: one filter over the whole log; events it does not read are skipped. */
export const MAPPING_SUBSCRIPTION = { name: 'mapping', filter: ALL_EVENTS, ackWaitMs: 10_000, maxDeliver: 5 } as const;

/** The envelopes of an input's decisions: derived ids, caused by the input, stamped `at`. */
export function materialize(input: MappingInput, decisions: readonly MappingOutput[], at: Date): DomainEvent[] {
  const occurredAt = at.toISOString();
  return decisions.map(
    (d) =>
      ({
        type: d.type,
        schemaVersion: CURRENT_VERSIONS[d.type],
        id: derivedEventId(input.id, d.type, d.payload.vmId),
        ...causedBy(input),
        occurredAt,
        payload: d.payload,
      }) as DomainEvent,
  );
}

/** What the rebuild found. */
export interface Rebuilt {
  readonly state: MappingState;
  /** Last log position read (0 for an empty log). */
  readonly position: number;
  /** Outputs decided but not in the log, in input order. */
  readonly missing: readonly DomainEvent[];
  readonly inputs: number;
  /** Inputs whose stored outputs differ from today's decision (a changed decider). */
  readonly diverged: number;
  /** Records this build cannot decode, skipped (the subscription dead-letters them). */
  readonly undecodable: number;
}

/**
 * Reads the log to its end, deciding every input again without writing. Records are decoded
 * here rather than by `readAll`, so that one record this build cannot read (the log is shared)
 * is skipped and counted instead of stopping the service for good.
 */
export async function rebuild(store: EventStore<DomainEvent>, log?: Logger, now = new Date()): Promise<Rebuilt> {
  let state = initialState();
  let position = 0;
  let inputs = 0;
  let diverged = 0;
  let undecodable = 0;
  // Input id → the outputs its decision predicts that have not been seen in the log yet.
  const pending = new Map<string, Map<string, DomainEvent>>();
  for await (const raw of store.readRaw({ stream: LOG_STREAM, filter: ALL_EVENTS })) {
    position = raw.position;
    const decoded = domainEventCodec.decode(raw.data);
    if (E.isLeft(decoded)) {
      undecodable++;
      log?.warn({ position, subject: raw.subject, err: decoded.left }, 'skipped a record this build cannot decode');
      continue;
    }
    const ev = decoded.right;
    if (isInput(ev)) {
      inputs++;
      const decisions = decide(state, ev);
      state = applyDecision(state, ev, decisions);
      if (decisions.length > 0) pending.set(ev.id, new Map(materialize(ev, decisions, now).map((o) => [o.id, o])));
    } else if (isOutput(ev) && ev.causationId !== null) {
      const predicted = pending.get(ev.causationId);
      if (!predicted) continue;
      if (!predicted.delete(ev.id)) {
        // Written by a decider that decided otherwise: the log is the truth, write nothing more for it.
        diverged++;
        pending.delete(ev.causationId);
      } else if (predicted.size === 0) pending.delete(ev.causationId);
    }
  }
  const missing = [...pending.values()].flatMap((m) => [...m.values()]);
  return { state, position, missing, inputs, diverged, undecodable };
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
      if (!isRetryable(r.left)) throw new Error(`mapping output refused by the store: ${describeAppendError(r.left)}`);
      failed.set(entries[i]![0], entries[i]![1]);
      if (attempt === 1 || attempt % 20 === 0) log.warn({ stream: entries[i]![0], attempt, err: describeAppendError(r.left) }, 'append failed; retrying');
    });
    groups = failed;
    if (groups.size === 0) return;
    if (signal?.aborted) throw new Error('stopping with outputs unwritten (they are written on the next start)');
    await sleep(Math.min(2000, 50 * attempt));
  }
}

/** A running mapping service. */
export interface Mapper {
  /** The current state (read-only for callers). */
  state(): MappingState;
  readonly subscription: Subscription;
  stop(): Promise<void>;
}

function count(m: MappingMetrics, outputs: readonly DomainEvent[]): void {
  for (const o of outputs) {
    if (o.type === 'VmMappingAdded') m.accepted.inc();
    else if (o.type === 'VmPlacementRejected') m.rejected.inc({ reason: o.payload.reason });
    else if (o.type === 'VmMappingRemoved') m.removed.inc({ reason: o.payload.reason });
  }
}

/** Rebuilds, completes, and subscribes. */
export async function startMapper(store: EventStore<DomainEvent>, metrics: MappingMetrics, log: Logger): Promise<Mapper> {
  const started = Date.now();
  const stopping = new AbortController();
  const r = await rebuild(store, log);
  let state = r.state;
  await appendAll(store, r.missing, log, stopping.signal);
  count(metrics, r.missing);
  metrics.mappings.set(state.vms.size);
  metrics.position.set(r.position);
  log.info(
    { position: r.position, inputs: r.inputs, mappings: state.vms.size, completed: r.missing.length, diverged: r.diverged, undecodable: r.undecodable, ms: Date.now() - started },
    'state rebuilt from the log',
  );
  if (r.diverged > 0) log.warn({ diverged: r.diverged }, 'stored decisions differ from what this version decides; kept the stored ones');

  // Positions up to `done` are folded; `retry` holds positions whose handling failed and will be redelivered.
  let done = r.position;
  const retry = new Set<number>();
  const subscription = await store.subscribe({ ...MAPPING_SUBSCRIPTION, startFrom: { position: r.position + 1 } }, async (rec) => {
    if (rec.position <= done && !retry.has(rec.position)) return; // folded already: redelivery or rebuild
    const ev = rec.event;
    if (isInput(ev)) {
      const decisions = decide(state, ev);
      const outputs = materialize(ev, decisions, new Date());
      try {
        await appendAll(store, outputs, log, stopping.signal);
      } catch (e) {
        retry.add(rec.position);
        throw e;
      }
      retry.delete(rec.position);
      state = applyDecision(state, ev, decisions);
      count(metrics, outputs);
      metrics.mappings.set(state.vms.size);
    }
    done = Math.max(done, rec.position);
    metrics.position.set(done);
  });
  return {
    state: () => state,
    subscription,
    stop: async () => {
      stopping.abort();
      await subscription.stop();
    },
  };
}
