/**
 * readAll / readStream: ordered, forward reads of the log through an ephemeral ordered
 * consumer (flow-controlled, re-created by the client on gaps). A read that is not `live`
 * ends at the log's end as it was when the read started; a `live` read goes on with new
 * events until its signal aborts.
 */
import { DeliverPolicy, type JsMsg, type OrderedConsumerOptions } from '@nats-io/jetstream';
import type { StoreContext } from './context';
import { toRecorded, type RecordedEvent } from './recorded';
import { ALL_EVENTS, LOG_STREAM, subjectOf } from './subjects';

/** Where a read starts. */
export interface ReadAllOptions {
  /** First position to read (inclusive); 1 when neither this nor fromTime is given. */
  readonly fromPosition?: number;
  /** Read events stored at or after this time. */
  readonly fromTime?: Date;
  /** A subject filter (one subject; wildcards allowed). Defaults to every domain event. */
  readonly filter?: string;
  /** Keep reading new events after the end; stop with `signal`. */
  readonly live?: boolean;
  readonly signal?: AbortSignal;
  /** Messages asked for per pull (default 2,000). */
  readonly batch?: number;
  /** JetStream stream to read (default the domain log). */
  readonly stream?: string;
  /**
   * forEachEvent only: called once, before the first event, with how many matching events
   * the log holds from the start position (so a reader can size its state for the backlog).
   */
  readonly onBacklog?: (events: number) => void;
}

/** Consumer options for a starting point. */
function startOf(opts: ReadAllOptions): Partial<OrderedConsumerOptions> {
  if (opts.fromTime) return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: opts.fromTime.toISOString() };
  if (opts.fromPosition && opts.fromPosition > 1) {
    return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: opts.fromPosition };
  }
  return { deliver_policy: DeliverPolicy.All };
}

/** Retries a request that timed out (e.g. while a cluster elects a new leader), a few times. */
async function withRetry<T>(fn: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= attempts || !(e instanceof Error) || e.name !== 'TimeoutError') throw e;
      await new Promise((r) => setTimeout(r, 250 * i));
    }
  }
}

/**
 * The ordered consumer of a read, and where a read that is not live ends (the log's last
 * position when it starts; +∞ for a live read); undefined when there is nothing to read.
 * The server forgets an ordered consumer 30 s after its reader vanished; a reader that ends
 * normally deletes it at once, so reads leave nothing behind.
 */
async function openRead<Ev>(ctx: StoreContext<Ev>, opts: ReadAllOptions) {
  const stream = opts.stream ?? LOG_STREAM;
  let endSeq = Number.POSITIVE_INFINITY;
  if (!opts.live) {
    const info = await ctx.jsm.streams.info(stream);
    endSeq = info.state.last_seq;
    if (info.state.messages === 0 || (opts.fromPosition ?? 1) > endSeq) return undefined;
  }
  const consumer = await withRetry(() =>
    ctx.js.consumers.get(stream, { filter_subjects: opts.filter ?? ALL_EVENTS, inactive_threshold: 30_000, ...startOf(opts) }),
  );
  return { consumer, endSeq };
}

/** Reads messages in order, each turned into a T by `map` (one generator, no second layer on
 * the hot path); shared by readAll, readStream, readRaw and projections. */
export async function* readMessages<Ev, T>(ctx: StoreContext<Ev>, opts: ReadAllOptions, map: (m: JsMsg) => T): AsyncGenerator<T> {
  const opened = await openRead(ctx, opts);
  if (!opened) return;
  const { consumer, endSeq } = opened;
  let messages: Awaited<ReturnType<typeof consumer.consume>> | undefined;
  const onAbort = () => void messages?.stop();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (!opts.live && (await consumer.info(false)).num_pending === 0) return;
    if (opts.signal?.aborted) return;
    messages = await consumer.consume({ max_messages: opts.batch ?? 2000 });
    for await (const m of messages) {
      if (m.seq > endSeq) break;
      yield map(m);
      if (m.seq >= endSeq || (!opts.live && m.info.pending === 0)) break;
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await messages?.close().catch(() => undefined);
    await consumer.delete().catch(() => undefined);
  }
}

/**
 * Like {@link readMessages}, but calls `handler` for each message as the client receives it
 * (nats.js callback mode): no async-iterator step and no promise per message, which is most
 * of a replay's own cost once decoding is cheap. Resolves when the read ends (the end of the
 * log for a read that is not live; the signal for a live one); rejects with what `map` or
 * `handler` threw (the read stops there: nothing after a failed event is handled).
 */
export async function eachMessage<Ev, T>(
  ctx: StoreContext<Ev>,
  opts: ReadAllOptions,
  map: (m: JsMsg) => T,
  handler: (t: T) => void,
): Promise<void> {
  const opened = await openRead(ctx, opts);
  if (!opened) return;
  const { consumer, endSeq } = opened;
  let failure: unknown;
  let finished = false;
  let messages: Awaited<ReturnType<typeof consumer.consume>> | undefined;
  const finish = () => {
    if (finished) return;
    finished = true;
    void messages?.stop();
  };
  opts.signal?.addEventListener('abort', finish, { once: true });
  try {
    if (!opts.live || opts.onBacklog) {
      const pending = (await withRetry(() => consumer.info(false))).num_pending;
      opts.onBacklog?.(pending);
      if (!opts.live && pending === 0) return;
    }
    if (opts.signal?.aborted) return;
    messages = await consumer.consume({
      max_messages: opts.batch ?? 2000,
      callback: (m) => {
        if (finished) return;
        if (m.seq > endSeq) return finish();
        try {
          handler(map(m));
        } catch (e) {
          failure = e;
          return finish();
        }
        if (m.seq >= endSeq || (!opts.live && m.info.pending === 0)) finish();
      },
    });
    if (finished) void messages.stop(); // ended (or aborted) before consume() returned
    const closed = await messages.closed();
    if (failure === undefined && !finished) {
      // Nobody ended it: the consumer failed or the connection closed under a live read.
      failure = closed instanceof Error ? closed : new Error(`read of ${opts.filter ?? ALL_EVENTS} ended before its end (connection closed?)`);
    }
    if (failure !== undefined) throw failure;
  } finally {
    opts.signal?.removeEventListener('abort', finish);
    await messages?.close().catch(() => undefined);
    await consumer.delete().catch(() => undefined);
  }
}

/** Reads the whole log (or a filtered part of it) forwards, decoded. */
export function readAll<Ev>(ctx: StoreContext<Ev>, opts: ReadAllOptions = {}): AsyncGenerator<RecordedEvent<Ev>> {
  return readMessages(ctx, opts, (m) => toRecorded(ctx, m));
}

/** Options of readStream. */
export interface ReadStreamOptions {
  /** First revision to read (inclusive); from the start when omitted. */
  readonly fromRevision?: number;
  readonly signal?: AbortSignal;
}

/** Reads one aggregate's events forwards; empty when the stream has none. */
export function readStream<Ev>(
  ctx: StoreContext<Ev>,
  streamName: string,
  opts: ReadStreamOptions = {},
): AsyncGenerator<RecordedEvent<Ev>> {
  return readAll(ctx, {
    filter: subjectOf(streamName),
    ...(opts.fromRevision ? { fromPosition: opts.fromRevision } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
}
