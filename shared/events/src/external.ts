/**
 * What vnet accepts from an external system, decided without I/O: used by the gateway (the
 * trust boundary) and by `vnet publish` (so an operator hears "no" before anything is sent).
 */
import * as E from 'fp-ts/lib/Either.js';
import { EXTERNAL_EVENT_TYPES, type DomainEvent } from './catalogue';
import { decodeEventBytes } from './decode';
import { formatDecodeFailure } from './errors';

/** Events larger than this are rejected without being parsed. */
export const MAX_EXTERNAL_EVENT_BYTES = 1024 * 1024;

/** Why an external message was not accepted. */
export type RejectionKind = 'oversized' | 'malformed' | 'invalid' | 'not-external' | 'subject-mismatch';

/** A refused external message, with the reason for the dead letter. */
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

/** Decides what to do with one message published on `subject` (`vnet.ext.<anything>`; a last
 * token that names an event type must name this event's type). */
export function validateExternal(subject: string, bytes: Uint8Array): E.Either<Rejection, DomainEvent> {
  if (bytes.byteLength > MAX_EXTERNAL_EVENT_BYTES) {
    return reject('oversized', `event is ${bytes.byteLength} bytes; the limit is ${MAX_EXTERNAL_EVENT_BYTES} bytes (1 MiB)`);
  }
  const decoded = decodeEventBytes(bytes);
  if (E.isLeft(decoded)) {
    const malformed = decoded.left.problems.some((p) => p.path === '' || p.path === '$');
    return reject(malformed ? 'malformed' : 'invalid', formatDecodeFailure(decoded.left));
  }
  const ev = decoded.right;
  if (!EXTERNAL.has(ev.type)) return reject('not-external', `${ev.type} is not an event external systems may publish`, ev.id);
  const token = subject.startsWith(INGEST_PREFIX) ? subject.slice(INGEST_PREFIX.length) : '';
  if (/^[A-Z][A-Za-z]+$/.test(token) && token !== ev.type) {
    return reject('subject-mismatch', `published on ${subject} but the event's type is ${ev.type}`, ev.id);
  }
  return E.right(ev);
}
