/**
 * @vnet/eventstore — the only library that knows JetStream. See README.md.
 */
export { EventStore, type RawRecord } from './client';
export { jsonCodec, type ConnectOptions, type EventCodec, type StorableEvent, type StoreContext } from './context';
export type { AppendOptions, AppendResult } from './appendToStream';
export { ANY, NO_STREAM, STREAM_EXISTS, type ExpectedRevision } from './revision';
export {
  describeAppendError,
  isRetryable,
  UndecodableEvent,
  type AppendError,
  type AppendRejected,
  type StoreUnavailable,
  type WrongExpectedVersion,
} from './errors';
export type { ReadAllOptions, ReadStreamOptions } from './readAll';
export type { RecordedEvent } from './recorded';
export { DEAD_LETTER_PREFIX, type Concurrency, type RawDelivery, type Subscription, type SubscriptionOptions } from './subscribe';
export { CHECKPOINT_BUCKET, type Projection, type ProjectionSpec } from './projection';
export type { RawPublished, RawPublishOptions } from './raw';
export type { ApplyOptions, KvSpec, StreamSpec, Topology, TopologyReport } from './topology';
export { ALL_EVENTS, EVENT_PREFIX, LOG_STREAM, categoryFilter, checkStreamName, streamNameOfSubject, subjectOf } from './subjects';
export { SNAPSHOT_BUCKET, type Snapshot } from './snapshots';
export {
  copyObject,
  fileDigest,
  OBJECT_CHUNK,
  objectDigest,
  openObjectBucket,
  putFile,
  type ObjectInfo,
  type ObjectStore,
  type TransferOptions,
  type Transferred,
} from './objects';
