/**
 * The envelope every event travels in: what it is, which version of its payload, who caused
 * it, and when. `id` doubles as the `Nats-Msg-Id`, so a retried append is deduplicated.
 */
import * as t from 'io-ts';
import { closed } from './closed';
import { EventId, IsoTimestamp } from './ids';

/** The event that caused this one, or null for an event caused by a command from outside. */
export const CausationId = t.union([EventId, t.null], 'CausationId');
/** An {@link EventId} or null. */
export type CausationId = t.TypeOf<typeof CausationId>;

/** The fields of the envelope of event `K` at schema version `V` with payload codec `P`. */
export type EnvelopeProps<K extends string, V extends number, P extends t.Mixed> = {
  /** The event type, the discriminant of {@link DomainEvent}. */
  type: t.LiteralC<K>;
  /** Version of the payload's shape; older versions are upcast on decode. */
  schemaVersion: t.LiteralC<V>;
  id: typeof EventId;
  causationId: typeof CausationId;
  /** Id of the first event of the conversation; an event that starts one carries its own id. */
  correlationId: typeof EventId;
  occurredAt: typeof IsoTimestamp;
  payload: P;
};

/** Codec of one event's envelope, closed (unknown fields are rejected). */
export type EnvelopeC<K extends string, V extends number, P extends t.Mixed> = t.ExactC<t.TypeC<EnvelopeProps<K, V, P>>>;

/** Builds the closed envelope codec of event `type` at version `version` around its payload codec. */
export function envelopeCodec<K extends string, V extends number, P extends t.Mixed>(
  type: K,
  version: V,
  payload: P,
): EnvelopeC<K, V, P> {
  const props: EnvelopeProps<K, V, P> = {
    type: t.literal(type),
    schemaVersion: t.literal(version),
    id: EventId,
    causationId: CausationId,
    correlationId: EventId,
    occurredAt: IsoTimestamp,
    payload,
  };
  return closed(`${type} v${version} envelope`, props);
}
