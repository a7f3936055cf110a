/**
 * The gateway's decision, pure: bytes from an external system become either a canonical
 * domain event or a rejection that says why. No I/O here.
 */
import * as E from 'fp-ts/lib/Either.js';
import { EXTERNAL_EVENT_TYPES, decodeEventBytes, formatDecodeFailure, type DomainEvent } from '@vnet/events';

/** Events larger than this are rejected without being parsed. */
export const MAX_EVENT_BYTES = 1024 * 1024;

/** Why an external message was not accepted. */
export type RejectionKind = 'oversized' | 'malformed' | 'invalid' | 'not-external' | 'subject-mismatch';

export interface Rejection {
  readonly _tag: 'Rejection';
  readonly kind: RejectionKind;
  readonly reason: string;
  /** The event id, when the message got far enough to have one. */
  readonly eventId?: string;
}

const EXTERNAL = new Set<string>(EXTERNAL_EVENT_TYPES);
const INGEST_PREFIX = 'vnet.ext.';

const reject = (kind: RejectionKind, reason: string, eventId?: string): E.Either<Rejection, never> =>
  E.left({ _tag: 'Rejection', kind, reason, ...(eventId ? { eventId } : {}) });

/** Decides what to do with one message published on `subject`. */
export function validateExternal(subject: string, bytes: Uint8Array): E.Either<Rejection, DomainEvent> {
  if (bytes.byteLength > MAX_EVENT_BYTES) {
    return reject('oversized', `event is ${bytes.byteLength} bytes; the limit is ${MAX_EVENT_BYTES} bytes (1 MiB)`);
  }
  const decoded = decodeEventBytes(bytes);
  if (E.isLeft(decoded)) {
    const text = formatDecodeFailure(decoded.left);
    const malformed = decoded.left.problems.some((p) => p.path === '' || p.path === '$');
    return reject(malformed ? 'malformed' : 'invalid', text);
  }
  const ev = decoded.right;
  if (!EXTERNAL.has(ev.type)) return reject('not-external', `${ev.type} is not an event external systems may publish`, ev.id);
  const token = subject.startsWith(INGEST_PREFIX) ? subject.slice(INGEST_PREFIX.length) : '';
  if (/^[A-Z][A-Za-z]+$/.test(token) && token !== ev.type) {
    return reject('subject-mismatch', `published on ${subject} but the event's type is ${ev.type}`, ev.id);
  }
  return E.right(ev);
}
