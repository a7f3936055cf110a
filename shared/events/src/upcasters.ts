/**
 * Old payload versions and the upcasters that lift them, one version at a time, to the
 * current shape. Events in the log are never rewritten: they stay readable forever because
 * every reader goes through this chain (emmett's "upcasting" pattern).
 *
 * To add version N+1 of an event: copy its current payload codec here as `<Event>V<N>`,
 * change the codec in `payloads.ts`, bump `CURRENT_VERSIONS`, and add
 * `upcaster('<Event>', N, <Event>V<N>, (p) => …)` returning the version N+1 shape.
 */
import * as t from 'io-ts';
import * as E from 'fp-ts/lib/Either.js';
import { CURRENT_VERSIONS, type EventType } from './catalogue';
import { closed } from './closed';
import { decodeFailure, problemsOf, type DecodeFailure } from './errors';
import { DatacenterId, HostId, RegionId } from './ids';
import { PublicKey, UnderlayAddress } from './net';
import type { HostRegisteredPayload } from './payloads';

/** One step of an upcaster chain: reads the payload of version `from`, returns version `from + 1`. */
export interface Upcaster {
  /** The event type it applies to. */
  readonly type: EventType;
  /** The version it reads. */
  readonly from: number;
  /** The payload codec of version `from` (the old event is validated before it is lifted). */
  readonly codec: t.Decoder<unknown, unknown>;
  /** Lifts a valid version-`from` payload to the (encoded) version `from + 1` shape. */
  readonly up: (payload: unknown) => unknown;
}

/** Declares one upcast step; `up` is typed by the old codec, so a rename cannot be forgotten. */
export function upcaster<C extends t.Mixed>(
  type: EventType,
  from: number,
  codec: C,
  up: (payload: t.TypeOf<C>) => unknown,
): Upcaster {
  return { type, from, codec, up: (payload) => up(payload as t.TypeOf<C>) };
}

/**
 * HostRegistered version 1 (the first release): the underlay was called `address` and was
 * documented as a plain "ip:port"; there was no capacity.
 */
export const HostRegisteredV1Payload = closed('HostRegistered v1 payload', {
  hostId: HostId,
  regionId: RegionId,
  datacenterId: DatacenterId,
  address: UnderlayAddress,
  publicKey: PublicKey,
});
/** Payload of `HostRegistered` version 1. */
export type HostRegisteredV1Payload = t.TypeOf<typeof HostRegisteredV1Payload>;

/** Every upcast step of the catalogue. */
export const UPCASTERS: ReadonlyArray<Upcaster> = [
  upcaster('HostRegistered', 1, HostRegisteredV1Payload, (p): HostRegisteredPayload => ({
    hostId: p.hostId,
    regionId: p.regionId,
    datacenterId: p.datacenterId,
    underlay: p.address,
    publicKey: p.publicKey,
  })),
];

/** The upcast step of `type` that reads version `from`, if there is one. */
export function findUpcaster(type: EventType, from: number): Upcaster | undefined {
  return UPCASTERS.find((u) => u.type === type && u.from === from);
}

/**
 * Lifts the payload of a `type` event at `version` to the current version. Each step
 * validates the old payload with its own codec first, so a damaged old event is reported with
 * the field names of its own version. The result still goes through the current codec.
 */
export function upcastPayload(type: EventType, version: number, payload: unknown): E.Either<DecodeFailure, unknown> {
  let current = payload;
  for (let v = version; v < CURRENT_VERSIONS[type]; v++) {
    const step = findUpcaster(type, v);
    if (step === undefined) {
      // A missing step is a bug of this library, but the caller still gets a value to report.
      const message = `schemaVersion: ${type} v${v} cannot be read: no upcaster from v${v} (a bug in @vnet/events)`;
      return E.left(decodeFailure([{ path: 'schemaVersion', value: version, expected: `an upcaster from v${v}`, message }]));
    }
    const decoded = step.codec.decode(current);
    if (E.isLeft(decoded)) return E.left(decodeFailure(problemsOf(decoded.left, ['payload'])));
    current = step.up(decoded.right);
  }
  return E.right(current);
}
