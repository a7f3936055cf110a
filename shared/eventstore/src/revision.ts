/**
 * Expected revisions for optimistic concurrency. A revision is JetStream's *subject
 * sequence*: the stream sequence of the last event on the aggregate's subject. It grows, but
 * it is not a dense count (other aggregates' events take the numbers in between).
 */

/** Append whatever the stream's state. */
export const ANY = 'any' as const;
/** Append only if the stream has no event yet. */
export const NO_STREAM = 'no_stream' as const;
/** Append only if the stream has at least one event. */
export const STREAM_EXISTS = 'stream_exists' as const;

/** What the caller believes the stream's revision to be. */
export type ExpectedRevision = typeof ANY | typeof NO_STREAM | typeof STREAM_EXISTS | number;
