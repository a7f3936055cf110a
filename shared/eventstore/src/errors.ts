/**
 * Expected failures of the event store, as tagged values (never thrown). Modelled on the
 * fields of the EventStore client's errors. Exceptions are kept for bugs.
 */
import type { ExpectedRevision } from './revision';

/** The stream was not at the revision the caller expected (optimistic concurrency). */
export interface WrongExpectedVersion {
  readonly _tag: 'WrongExpectedVersion';
  readonly streamName: string;
  readonly expected: ExpectedRevision;
  /** The stream's actual revision (0 = no event yet). */
  readonly actual: number;
}

/** The server could not be reached or did not answer in time; worth a retry. */
export interface StoreUnavailable {
  readonly _tag: 'StoreUnavailable';
  readonly reason: string;
}

/** The server refused the write for a reason a retry will not fix (too large, no stream...). */
export interface AppendRejected {
  readonly _tag: 'AppendRejected';
  readonly streamName: string;
  readonly reason: string;
}

/** Everything `appendToStream` can fail with. */
export type AppendError = WrongExpectedVersion | StoreUnavailable | AppendRejected;

/** True for the errors on which a retry may succeed. */
export function isRetryable(e: AppendError): boolean {
  return e._tag === 'StoreUnavailable';
}

/** One readable line for an error value. */
export function describeAppendError(e: AppendError): string {
  switch (e._tag) {
    case 'WrongExpectedVersion':
      return `stream ${e.streamName}: expected revision ${String(e.expected)}, actual ${e.actual}`;
    case 'StoreUnavailable':
      return `event store unavailable: ${e.reason}`;
    case 'AppendRejected':
      return `append to ${e.streamName} rejected: ${e.reason}`;
    default: {
      const never: never = e;
      return String(never);
    }
  }
}

/** Thrown while reading when a stored record cannot be decoded: the log is validated on the
 * way in, so this is a bug (or a missing upcaster), not an expected failure. */
export class UndecodableEvent extends Error {
  constructor(
    readonly subject: string,
    readonly position: number,
    readonly detail: string,
  ) {
    super(`event at position ${position} (${subject}) cannot be decoded: ${detail}`);
    this.name = 'UndecodableEvent';
  }
}
