/**
 * Durable ("persistent") subscriptions: a named JetStream pull consumer with explicit acks.
 *
 * - Catch-up then live: a new subscription starts where asked (`start`, `new`, a position)
 *   and goes on with new events; its checkpoint is the consumer's ack floor, kept by the
 *   server, so a restarted process resumes after the last acked message.
 * - A handler that throws is retried (nak with a delay) up to `maxDeliver` times; after the
 *   last failed attempt the message goes to the dead-letter subject `vnet.dlq.sub.<name>`
 *   with the reason, and is terminated only once that dead letter is stored (if it cannot
 *   be stored, the message is kept and retried). Nothing is dropped silently. A slow handler
 *   keeps its message (the client signals "working" while it runs).
 * - Several processes subscribing with the same name share the consumer: each message goes
 *   to one of them (queue semantics). Delivery is at least once: a handler must be
 *   idempotent (a crash between handling and ack redelivers the message).
 */
import { AckPolicy, DeliverPolicy, JetStreamApiError, type ConsumerConfig, type JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { StoreContext } from './context';
import { headerRecord, toRecorded, type RecordedEvent } from './recorded';
import { ALL_EVENTS, LOG_STREAM } from './subjects';

/** Prefix of dead-letter subjects (held by the VNET_DLQ stream). */
export const DEAD_LETTER_PREFIX = 'vnet.dlq';

export interface SubscriptionOptions {
  /** The subscription's durable name, shared by all instances of one service. */
  readonly name: string;
  /** One subject filter (JetStream 2.9 allows one per consumer). Default: every domain event. */
  readonly filter?: string;
  /** JetStream stream (default the domain log). */
  readonly stream?: string;
  /** Where a new subscription starts (ignored once it exists). Default `start`. */
  readonly startFrom?: 'start' | 'new' | { readonly position: number };
  /** How long a message may be in a handler before it is redelivered (default 30 s). */
  readonly ackWaitMs?: number;
  /** Attempts before a message is dead-lettered (default 5). */
  readonly maxDeliver?: number;
  /** Delay before a failed message is redelivered (default 250 ms). */
  readonly retryDelayMs?: number;
  /** Messages asked for per pull (default 256). */
  readonly batch?: number;
}

/**
 * Handling several messages at once: those with the same key one at a time, in the order
 * they came (a message retried after a failure comes again later, after others of its key);
 * those with different keys at the same time, at most `maxInFlight` in all (and no more
 * pulled). Each message is acked when its own handling ends (acks may come out of order).
 */
export interface Concurrency<T> {
  readonly key: (item: T) => string;
  readonly maxInFlight: number;
}

/** A raw message as a handler of `subscribeRaw` sees it. */
export interface RawDelivery {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly position: number;
  readonly deliveryCount: number;
}

/** A running subscription. */
export interface Subscription {
  readonly name: string;
  /** Stops pulling, lets the message in hand finish, and closes. */
  stop(): Promise<void>;
  /** Resolves when the subscription has stopped (after stop() or a fatal error). */
  readonly done: Promise<void>;
}

function consumerConfig(o: SubscriptionOptions): Partial<ConsumerConfig> {
  const start = o.startFrom ?? 'start';
  return {
    durable_name: o.name,
    ack_policy: AckPolicy.Explicit,
    filter_subject: o.filter ?? ALL_EVENTS,
    ack_wait: (o.ackWaitMs ?? 30_000) * 1_000_000,
    // Unlimited on the server: this client dead-letters after `maxDeliver` attempts itself, and
    // only once the dead letter is stored, so a message is never left undeliverable.
    max_deliver: -1,
    max_ack_pending: 10_000,
    ...(start === 'start'
      ? { deliver_policy: DeliverPolicy.All }
      : start === 'new'
        ? { deliver_policy: DeliverPolicy.New }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start.position }),
  };
}

/** Creates the durable consumer if it does not exist; fails clearly on a conflicting config. */
export async function ensureConsumer<Ev>(ctx: StoreContext<Ev>, o: SubscriptionOptions): Promise<'created' | 'updated' | 'unchanged'> {
  const stream = o.stream ?? LOG_STREAM;
  const wanted = consumerConfig(o);
  try {
    const info = await ctx.jsm.consumers.info(stream, o.name);
    if (info.config.filter_subject !== wanted.filter_subject) {
      throw new Error(
        `subscription ${o.name} exists on ${stream} with filter ${info.config.filter_subject}, ` +
          `not ${wanted.filter_subject}: delete it or use another name`,
      );
    }
    if (info.config.ack_wait !== wanted.ack_wait || info.config.max_deliver !== wanted.max_deliver) {
      await ctx.jsm.consumers.update(stream, o.name, { ack_wait: wanted.ack_wait!, max_deliver: wanted.max_deliver! });
      return 'updated';
    }
    return 'unchanged';
  } catch (e) {
    if (!(e instanceof JetStreamApiError) || e.code !== 10014) throw e;
  }
  await ctx.jsm.consumers.add(stream, wanted);
  return 'created';
}

/** Publishes a dead letter for a message that could not be handled. */
async function deadLetter<Ev>(ctx: StoreContext<Ev>, name: string, m: JsMsg, reason: string): Promise<void> {
  const h = natsHeaders();
  h.set('Vnet-Reason', reason.slice(0, 1024).replace(/[\r\n]+/g, ' '));
  h.set('Vnet-Original-Subject', m.subject);
  h.set('Vnet-Original-Position', String(m.seq));
  await ctx.js.publish(`${DEAD_LETTER_PREFIX}.sub.${name}`, m.data, {
    headers: h,
    msgID: `dlq-${name}-${m.info.stream}-${m.seq}`,
  });
}

/** Subscribes with raw bytes: for consumers of non-domain subjects (the gateway's ingest). */
export async function subscribeRaw<Ev>(
  ctx: StoreContext<Ev>,
  o: SubscriptionOptions,
  handler: (d: RawDelivery) => Promise<void>,
): Promise<Subscription> {
  return run(ctx, o, async (m) => {
    await handler({ subject: m.subject, data: m.data, headers: headerRecord(m), position: m.seq, deliveryCount: m.info.deliveryCount });
  });
}

/**
 * Subscribes to decoded domain events. An undecodable event is dead-lettered at once. With
 * `concurrency`, events with different keys are handled at the same time.
 */
export async function subscribe<Ev>(
  ctx: StoreContext<Ev>,
  o: SubscriptionOptions,
  handler: (e: RecordedEvent<Ev>, deliveryCount: number) => Promise<void>,
  concurrency?: Concurrency<RecordedEvent<Ev>>,
): Promise<Subscription> {
  /** The decoded event of each message in hand (decoded once, for its key and its handler). */
  const decoded = new WeakMap<JsMsg, RecordedEvent<Ev> | Poison>();
  const decode = (m: JsMsg): RecordedEvent<Ev> | Poison => {
    let d = decoded.get(m);
    if (d === undefined) {
      try {
        d = toRecorded(ctx, m);
      } catch (e) {
        d = new Poison(e instanceof Error ? e.message : String(e));
      }
      decoded.set(m, d);
    }
    return d;
  };
  const key = concurrency && ((m: JsMsg) => {
    const d = decode(m);
    return d instanceof Poison ? '' : concurrency.key(d);
  });
  return run(
    ctx,
    o,
    async (m) => {
      const d = decode(m);
      if (d instanceof Poison) throw d;
      await handler(d, m.info.deliveryCount);
    },
    key && concurrency ? { key, maxInFlight: concurrency.maxInFlight } : undefined,
  );
}

/** A message no retry can fix: dead-lettered on its first delivery. */
class Poison extends Error {}

async function run<Ev>(
  ctx: StoreContext<Ev>,
  o: SubscriptionOptions,
  handle: (m: JsMsg) => Promise<void>,
  concurrency?: Concurrency<JsMsg>,
): Promise<Subscription> {
  const stream = o.stream ?? LOG_STREAM;
  await ensureConsumer(ctx, o);
  const consumer = await ctx.js.consumers.get(stream, o.name);
  // Pulled messages count as delivered (their ack wait runs): with concurrency, no more are
  // pulled at a time than can be in hand, where they are kept alive. (The client asks for
  // the next batch before this one is used up: a handler that can take long needs an ack
  // wait longer than it takes, so that the messages buffered meanwhile do not expire.)
  const batch = Math.max(1, Math.min(o.batch ?? 256, concurrency?.maxInFlight ?? Number.MAX_SAFE_INTEGER));
  const messages = await consumer.consume({ max_messages: batch });
  const maxDeliver = o.maxDeliver ?? 5;
  const ackWaitMs = o.ackWaitMs ?? 30_000;
  const retryDelayMs = o.retryDelayMs ?? 250;
  // A slow handler keeps its message: one timer for the subscription tells the server that the
  // messages in hand are still being worked on (a timer per message would cost on the hot path).
  const inHand = new Map<JsMsg, number>();
  const keepAliveMs = Math.max(100, Math.floor(ackWaitMs / 3));
  const keepAlive = setInterval(() => {
    const now = Date.now();
    for (const [m, since] of inHand) if (now - since >= keepAliveMs) m.working();
  }, keepAliveMs);
  /** Handles one message to its end: acked, retried later, or dead-lettered. */
  const processOne = async (m: JsMsg): Promise<void> => {
    if (!inHand.has(m)) inHand.set(m, Date.now());
    try {
      await handle(m);
      m.ack();
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      const last = e instanceof Poison || m.info.deliveryCount >= maxDeliver;
      if (!last) {
        m.nak(retryDelayMs);
        return;
      }
      const why = e instanceof Poison ? `undecodable: ${reason}` : `failed ${m.info.deliveryCount} times: ${reason}`;
      try {
        await deadLetter(ctx, o.name, m, why);
        m.term(why);
      } catch {
        // The dead letter was not stored: keep the message (redelivered later), never drop it.
        m.nak(Math.max(retryDelayMs, 1000));
      }
    } finally {
      inHand.delete(m);
    }
  };
  const done = (async () => {
    if (!concurrency) {
      for await (const m of messages) await processOne(m);
      return;
    }
    // Per key, a chain of handlings; at most maxInFlight messages in hand.
    const chains = new Map<string, Promise<void>>();
    let inFlight = 0;
    const waiting: Array<() => void> = [];
    for await (const m of messages) {
      // In hand from now on (kept alive while it waits for a slot or behind its key).
      inHand.set(m, Date.now());
      while (inFlight >= concurrency.maxInFlight) await new Promise<void>((r) => waiting.push(r));
      inFlight++;
      const k = concurrency.key(m);
      // A handling that throws (an ack on a closed connection) must not stop its key's chain.
      const p: Promise<void> = (chains.get(k) ?? Promise.resolve())
        .then(() => processOne(m))
        .catch(() => undefined)
        .finally(() => {
          inFlight--;
          waiting.shift()?.();
          if (chains.get(k) === p) chains.delete(k);
        });
      chains.set(k, p);
    }
    await Promise.all(chains.values());
  })().finally(() => clearInterval(keepAlive));
  return {
    name: o.name,
    done,
    stop: async () => {
      messages.stop();
      await done;
    },
  };
}
