/**
 * EventStore: the one client every vnet part uses to talk to the log, in the style of the
 * EventStore Node client. It owns the NATS connection; nothing else imports `@nats-io/*`.
 */
import type * as E from 'fp-ts/lib/Either.js';
import { appendToStream, type AppendOptions, type AppendResult } from './appendToStream';
import { jsonCodec, openContext, type ConnectOptions, type EventCodec, type StorableEvent, type StoreContext } from './context';
import type { AppendError, AppendRejected, StoreUnavailable } from './errors';
import { lastRevision } from './lastRevision';
import { runProjection, type Projection, type ProjectionSpec } from './projection';
import { publishRaw, type RawPublished, type RawPublishOptions } from './raw';
import { eachMessage, readAll, readMessages, readStream, type ReadAllOptions, type ReadStreamOptions } from './readAll';
import { createdAt, headerRecord, toRecorded, type RecordedEvent } from './recorded';
import { loadSnapshot, saveSnapshot, type Snapshot } from './snapshots';
import { subscribe, subscribeRaw, type Concurrency, type RawDelivery, type Subscription, type SubscriptionOptions } from './subscribe';
import { applyTopology, type ApplyOptions, type Topology, type TopologyReport } from './topology';

/** A raw message read back from any stream. */
export interface RawRecord {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly position: number;
  readonly created: Date;
}

export class EventStore<Ev extends StorableEvent> {
  private constructor(private readonly ctx: StoreContext<Ev>) {}

  /** Connects; `codec` decides how events become bytes (validated catalogue codec in services). */
  static async connect<Ev extends StorableEvent>(opts: ConnectOptions, codec: EventCodec<Ev>): Promise<EventStore<Ev>> {
    return new EventStore(await openContext(opts, codec));
  }

  /** Connects with plain JSON (no validation): for tools that only move events. */
  static async connectJson(opts: ConnectOptions = {}) {
    return EventStore.connect(opts, jsonCodec);
  }

  /** The server URL this client is connected to. */
  get server(): string {
    return this.ctx.nc.getServer();
  }

  appendToStream(streamName: string, events: readonly Ev[], opts?: AppendOptions): Promise<E.Either<AppendError, AppendResult>> {
    return appendToStream(this.ctx, streamName, events, opts);
  }

  /** Revision of a stream's last event (0 when it has none). */
  currentRevision(streamName: string): Promise<number> {
    return lastRevision(this.ctx, streamName);
  }

  readStream(streamName: string, opts?: ReadStreamOptions): AsyncGenerator<RecordedEvent<Ev>> {
    return readStream(this.ctx, streamName, opts);
  }

  readAll(opts?: ReadAllOptions): AsyncGenerator<RecordedEvent<Ev>> {
    return readAll(this.ctx, opts);
  }

  /**
   * readAll with a handler instead of an iterator: `handler` runs for each event as it
   * arrives, synchronously (no promise per event: the fast way to replay a million events).
   * Resolves when the read ends — at the log's end, or when `signal` aborts a live read —
   * and rejects with the first error thrown by the handler or by decoding.
   */
  forEachEvent(opts: ReadAllOptions, handler: (e: RecordedEvent<Ev>) => void): Promise<void> {
    return eachMessage(this.ctx, opts, (m) => toRecorded(this.ctx, m), handler);
  }

  /** Reads raw messages of any stream (the dead letters, the external ingest). */
  readRaw(opts: ReadAllOptions & { readonly stream: string; readonly filter: string }): AsyncGenerator<RawRecord> {
    return readMessages(this.ctx, opts, (m) => ({
      subject: m.subject,
      data: m.data,
      headers: headerRecord(m),
      position: m.seq,
      created: createdAt(m),
    }));
  }

  subscribe(
    opts: SubscriptionOptions,
    handler: (e: RecordedEvent<Ev>, deliveryCount: number) => Promise<void>,
    concurrency?: Concurrency<RecordedEvent<Ev>>,
  ): Promise<Subscription> {
    return subscribe(this.ctx, opts, handler, concurrency);
  }

  subscribeRaw(opts: SubscriptionOptions, handler: (d: RawDelivery) => Promise<void>): Promise<Subscription> {
    return subscribeRaw(this.ctx, opts, handler);
  }

  publishRaw(subject: string, data: Uint8Array, opts?: RawPublishOptions): Promise<E.Either<StoreUnavailable | AppendRejected, RawPublished>> {
    return publishRaw(this.ctx, subject, data, opts);
  }

  runProjection<S>(spec: ProjectionSpec<S, Ev>): Promise<Projection<S>> {
    return runProjection(this.ctx, spec);
  }

  /** Stores a snapshot of a read model at a log position (see snapshots.ts). */
  saveSnapshot(name: string, position: number, data: Uint8Array): Promise<void> {
    return saveSnapshot(this.ctx, name, position, data);
  }

  /** The latest snapshot of that name, or undefined. */
  loadSnapshot(name: string): Promise<Snapshot | undefined> {
    return loadSnapshot(this.ctx, name);
  }

  applyTopology(t: Topology, opts?: ApplyOptions): Promise<TopologyReport> {
    return applyTopology(this.ctx, t, opts);
  }

  /** Stream sequence of the last message in a JetStream stream (0 when empty). */
  async lastPosition(stream = 'VNET_EVENTS'): Promise<number> {
    return (await this.ctx.jsm.streams.info(stream)).state.last_seq;
  }

  /** Message count of a JetStream stream. */
  async count(stream = 'VNET_EVENTS', subject?: string): Promise<number> {
    const info = await this.ctx.jsm.streams.info(stream, subject ? { subjects_filter: subject } : undefined);
    if (!subject) return info.state.messages;
    return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  }

  /** Drains and closes the connection. */
  async close(): Promise<void> {
    if (!this.ctx.nc.isClosed()) await this.ctx.nc.drain();
  }

  /** For benchmarks and the store's own tests only: the underlying handles. */
  unsafeContext(): StoreContext<Ev> {
    return this.ctx;
  }
}
