/**
 * Stream names and NATS subjects. An event store "stream" (EventStore's word) is one
 * aggregate, e.g. `host.h1`; it lives on the JetStream subject `vnet.evt.host.h1` of the one
 * JetStream stream that holds the whole domain log.
 */

/** The JetStream stream that holds every domain event. */
export const LOG_STREAM = 'VNET_EVENTS';
/** Subject prefix of domain events. */
export const EVENT_PREFIX = 'vnet.evt';
/** Subject filter that matches every domain event. */
export const ALL_EVENTS = `${EVENT_PREFIX}.>`;

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** Thrown (a bug, not an expected failure) when a stream name cannot be a subject. */
export class InvalidStreamName extends Error {
  constructor(readonly streamName: string) {
    super(
      `invalid stream name ${JSON.stringify(streamName)}: expected dot-separated tokens of ` +
        'letters, digits, "_" or "-" (e.g. "host.h1")',
    );
    this.name = 'InvalidStreamName';
  }
}

/** Validates a stream name (`context.id[.more]`) and returns it. */
export function checkStreamName(streamName: string): string {
  const parts = streamName.split('.');
  if (parts.length < 1 || parts.some((p) => !TOKEN.test(p))) throw new InvalidStreamName(streamName);
  return streamName;
}

/** `host.h1` → `vnet.evt.host.h1`. */
export function subjectOf(streamName: string): string {
  return `${EVENT_PREFIX}.${checkStreamName(streamName)}`;
}

/** `vnet.evt.host.h1` → `host.h1`. */
export function streamNameOfSubject(subject: string): string {
  return subject.startsWith(`${EVENT_PREFIX}.`) ? subject.slice(EVENT_PREFIX.length + 1) : subject;
}

/** Subject filter for a category (`host` → `vnet.evt.host.>`). */
export function categoryFilter(category: string): string {
  return `${EVENT_PREFIX}.${checkStreamName(category)}.>`;
}
