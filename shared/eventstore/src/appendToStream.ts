/**
 * appendToStream: writes events to one aggregate's subject with optimistic concurrency.
 *
 * - Idempotent: each event's id is its `Nats-Msg-Id`, so re-appending the same event within
 *   the stream's duplicate window stores it once and answers with the first sequence.
 * - `ANY`: events are pipelined (sent without waiting for each ack), which is what makes the
 *   client as fast as raw JetStream publishing. If the server refuses one of them (or the
 *   connection drops), the others may be stored: retry the same append (same ids) to
 *   complete it, or use an expected revision when order and all-or-prefix matter.
 * - Any other expectation: events are written one after the other, each expecting the
 *   sequence the previous one got (`Nats-Expected-Last-Subject-Sequence`), so a concurrent
 *   writer makes the append fail instead of interleaving. JetStream 2.9 has no atomic
 *   multi-message write: if the process dies mid-append, a prefix of the events is stored;
 *   re-running the same append (same ids) completes it, because duplicates are answered first.
 */
import { JetStreamApiCodes, JetStreamApiError, type PubAck } from '@nats-io/jetstream';
import * as E from 'fp-ts/lib/Either.js';
import type { StorableEvent, StoreContext } from './context';
import type { AppendError } from './errors';
import { lastRevision } from './lastRevision';
import { ANY, NO_STREAM, STREAM_EXISTS, type ExpectedRevision } from './revision';
import { subjectOf } from './subjects';

/** What an append returns. */
export interface AppendResult {
  /** The revision to expect next time (the subject sequence of the last event written). */
  readonly nextExpectedRevision: number;
  /** Stream position of each event, in order. */
  readonly positions: readonly number[];
  /** How many of the events were already stored (deduplicated by id). */
  readonly duplicates: number;
}

export interface AppendOptions {
  readonly expectedRevision?: ExpectedRevision;
  readonly timeoutMs?: number;
}

function classify(err: unknown, streamName: string): AppendError | 'wrong-last-sequence' {
  if (err instanceof JetStreamApiError) {
    if (err.code === JetStreamApiCodes.StreamWrongLastSequence) return 'wrong-last-sequence';
    return { _tag: 'AppendRejected', streamName, reason: `${err.message} (code ${err.code})` };
  }
  const name = err instanceof Error ? err.name : '';
  const message = err instanceof Error ? err.message : String(err);
  if (/maximum payload|max_payload|MAX_PAYLOAD/i.test(message)) {
    return { _tag: 'AppendRejected', streamName, reason: message };
  }
  return { _tag: 'StoreUnavailable', reason: `${name || 'error'}: ${message}` };
}

async function wrongVersion<Ev>(ctx: StoreContext<Ev>, streamName: string, expected: ExpectedRevision): Promise<AppendError> {
  try {
    const actual = await lastRevision(ctx, streamName);
    return { _tag: 'WrongExpectedVersion', streamName, expected, actual };
  } catch (e) {
    return { _tag: 'StoreUnavailable', reason: e instanceof Error ? e.message : String(e) };
  }
}

/** Appends `events` to `streamName`; see the module comment for the guarantees. */
export async function appendToStream<Ev extends StorableEvent>(
  ctx: StoreContext<Ev>,
  streamName: string,
  events: readonly Ev[],
  opts: AppendOptions = {},
): Promise<E.Either<AppendError, AppendResult>> {
  // STREAM_EXISTS only asks that the stream exist: a concurrent append that moved its revision
  // is no conflict, so look the revision up again and retry.
  for (let attempt = 1; ; attempt++) {
    const r = await appendOnce(ctx, streamName, events, opts);
    const raced = E.isLeft(r) && r.left._tag === 'WrongExpectedVersion' && r.left.actual > 0;
    if (opts.expectedRevision !== STREAM_EXISTS || !raced || attempt >= 20) return r;
    await new Promise((res) => setTimeout(res, Math.random() * 5 * attempt)); // spread contenders
  }
}

async function appendOnce<Ev extends StorableEvent>(
  ctx: StoreContext<Ev>,
  streamName: string,
  events: readonly Ev[],
  opts: AppendOptions = {},
): Promise<E.Either<AppendError, AppendResult>> {
  const subject = subjectOf(streamName);
  const expectedRevision = opts.expectedRevision ?? ANY;
  const timeout = opts.timeoutMs ?? ctx.timeoutMs;
  let expected: number | undefined;
  try {
    if (expectedRevision === NO_STREAM) expected = 0;
    else if (expectedRevision === STREAM_EXISTS) {
      expected = await lastRevision(ctx, streamName);
      if (expected === 0) return E.left({ _tag: 'WrongExpectedVersion', streamName, expected: STREAM_EXISTS, actual: 0 });
    } else if (typeof expectedRevision === 'number') {
      if (!Number.isSafeInteger(expectedRevision) || expectedRevision < 0) {
        throw new RangeError(`expectedRevision must be a non-negative integer, got ${expectedRevision}`);
      }
      expected = expectedRevision;
    }
  } catch (e) {
    if (e instanceof RangeError) throw e;
    return E.left({ _tag: 'StoreUnavailable', reason: e instanceof Error ? e.message : String(e) });
  }

  if (events.length === 0) {
    try {
      const actual = await lastRevision(ctx, streamName);
      if (expected !== undefined && actual !== expected) {
        return E.left({ _tag: 'WrongExpectedVersion', streamName, expected: expectedRevision, actual });
      }
      return E.right({ nextExpectedRevision: actual, positions: [], duplicates: 0 });
    } catch (e) {
      return E.left(classify(e, streamName) as AppendError);
    }
  }

  const acks: PubAck[] = [];
  try {
    if (expected === undefined) {
      const pending = events.map((ev) => ctx.js.publish(subject, ctx.codec.encode(ev), { msgID: ev.id, timeout }));
      acks.push(...(await Promise.all(pending)));
    } else {
      let exp = expected;
      for (const ev of events) {
        const ack = await ctx.js.publish(subject, ctx.codec.encode(ev), {
          msgID: ev.id,
          timeout,
          expect: { lastSubjectSequence: exp },
        });
        acks.push(ack);
        exp = ack.seq;
      }
    }
  } catch (e) {
    const c = classify(e, streamName);
    return E.left(c === 'wrong-last-sequence' ? await wrongVersion(ctx, streamName, expectedRevision) : c);
  }
  const positions = acks.map((a) => a.seq);
  return E.right({
    nextExpectedRevision: Math.max(...positions),
    positions,
    duplicates: acks.filter((a) => a.duplicate).length,
  });
}
