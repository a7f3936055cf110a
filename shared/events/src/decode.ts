/**
 * The edge between bytes and domain events. JetStream only ever hands out bytes; everything
 * past `decodeEventBytes` sees typed, current-version events, everything before it sees a
 * `DecodeFailure` value naming each bad field.
 */
import * as E from 'fp-ts/lib/Either.js';
import { CURRENT_VERSIONS, ENVELOPE_CODECS, EVENT_TYPES, isEventType, type DomainEvent, type EventType } from './catalogue';
import { fastCheck, type FastCheck } from './closed';
import { decodeFailure, decodeProblem, problemsOf, type DecodeFailure } from './errors';
import { upcastPayload } from './upcasters';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** `Buffer.from(s, 'utf8')` where there is a Buffer (Node: ten times faster than TextEncoder). */
type BufferFrom = (s: string, encoding: 'utf8') => Uint8Array;
const NodeBuffer = (globalThis as { Buffer?: { from: BufferFrom } }).Buffer;
const utf8Encode: (s: string) => Uint8Array =
  typeof NodeBuffer?.from === 'function' ? (s) => NodeBuffer.from(s, 'utf8') : (s) => utf8Encoder.encode(s);

/** Per event type, the fast check of its current envelope: true means `decode` gives the input back. */
const ENVELOPE_FAST_CHECKS = Object.fromEntries(EVENT_TYPES.map((type) => [type, fastCheck(ENVELOPE_CODECS[type])])) as {
  readonly [K in EventType]: FastCheck;
};

function fail(path: string, value: unknown, expected: string, detail?: string): E.Either<DecodeFailure, never> {
  return E.left(decodeFailure([decodeProblem(path, value, expected, detail)]));
}

function isRecord(u: unknown): u is Record<string, unknown> {
  return typeof u === 'object' && u !== null && !Array.isArray(u);
}

/**
 * Decodes parsed JSON into a domain event of the current version: checks the type and the
 * schema version, upcasts an older payload, then validates the whole envelope (unknown
 * fields included). Never throws.
 */
export function decodeEvent(input: unknown): E.Either<DecodeFailure, DomainEvent> {
  if (!isRecord(input)) return fail('', input, 'an event object');
  const { type, schemaVersion } = input;
  if (!isEventType(type)) return fail('type', type, `one of ${EVENT_TYPES.join(', ')}`);
  const current: number = CURRENT_VERSIONS[type];
  // The common case: a current, well-formed event is its own decoding (io-ts would return it as is).
  if (schemaVersion === current && ENVELOPE_FAST_CHECKS[type](input)) return E.right(input as DomainEvent);
  const versions = current === 1 ? '1' : `an integer 1..${current}`;
  if (typeof schemaVersion !== 'number' || !Number.isInteger(schemaVersion) || schemaVersion < 1) {
    return fail('schemaVersion', schemaVersion, versions, `the current version of ${type} is ${current}`);
  }
  if (schemaVersion > current) {
    return fail(
      'schemaVersion',
      schemaVersion,
      versions,
      `${type} v${schemaVersion} is newer than this build of @vnet/events knows (current: v${current}); upgrade the reader`,
    );
  }
  let envelope: unknown = input;
  if (schemaVersion < current) {
    const lifted = upcastPayload(type, schemaVersion, input.payload);
    if (E.isLeft(lifted)) return lifted;
    envelope = { ...input, schemaVersion: current, payload: lifted.right };
  }
  const decoded = ENVELOPE_CODECS[type].decode(envelope);
  return E.isLeft(decoded) ? E.left(decodeFailure(problemsOf(decoded.left))) : E.right(decoded.right as DomainEvent);
}

/** Decodes the bytes of a message: UTF-8, then JSON, then {@link decodeEvent}. Never throws. */
export function decodeEventBytes(bytes: Uint8Array): E.Either<DecodeFailure, DomainEvent> {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return fail('', `<${bytes.length} bytes>`, 'UTF-8 text', 'the bytes are not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return fail('', text, 'JSON', (e as Error).message);
  }
  return decodeEvent(json);
}

/** The JSON-ready form of an event (the codecs' output; brands are plain strings and numbers). */
export function encodeEvent(event: DomainEvent): unknown {
  const codec = ENVELOPE_CODECS[event.type] as { encode: (a: DomainEvent) => unknown };
  return codec.encode(event);
}

/**
 * The bytes to publish for an event: UTF-8 JSON of {@link encodeEvent}. Under Node this is a
 * `Buffer` (a `Uint8Array` that may be a view into a shared pool: mind `byteOffset`).
 */
export function encodeEventBytes(event: DomainEvent): Uint8Array {
  return utf8Encode(JSON.stringify(encodeEvent(event)));
}
