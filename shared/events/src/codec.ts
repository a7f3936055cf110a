/**
 * The catalogue as an event store codec: events are written as JSON and validated (and
 * upcast) when read. Structurally matches `EventCodec` of @vnet/eventstore, which this
 * package does not import.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { DomainEvent } from './catalogue';
import { decodeEventBytes, encodeEventBytes } from './decode';
import { formatDecodeFailure } from './errors';

/** Encodes and decodes domain events; a decode failure is a readable reason. */
export const domainEventCodec = {
  encode: (event: DomainEvent): Uint8Array => encodeEventBytes(event),
  decode: (bytes: Uint8Array): E.Either<string, DomainEvent> => E.mapLeft(formatDecodeFailure)(decodeEventBytes(bytes)),
};
