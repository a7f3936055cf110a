/**
 * Decode results of the data plane: a plain tagged union instead of fp-ts `Either`.
 *
 * Why not `Either`: this runs once per packet. A success costs one small object either way,
 * but here every failure is a frozen, preallocated value (a flood of junk datagrams allocates
 * nothing), `r.ok` is a monomorphic boolean check, the library imports nothing, and the
 * reason is a string literal that can be used as a counter label as it is. Code that wants an
 * `Either` lifts it in one line: `r.ok ? E.right(r.value) : E.left(r.reason)`.
 */

/**
 * Every reason a received frame can be refused for, in a fixed order (label values for a
 * counter; iterate it to pre-create every series at zero). Outer Geneve first, then vnet's
 * own rules, then the inner IPv4 packet.
 */
export const DECODE_REASONS = [
  /** Fewer bytes than the Geneve base header, or than its declared option length. */
  'truncated',
  /** Geneve version is not 0 (RFC 8926 §3.4: unknown versions MUST be dropped). */
  'bad-version',
  /** An option header or option data runs past the options area. */
  'bad-option-length',
  /** The O bit is set: a control message, whose payload MUST NOT be forwarded. */
  'oam-frame',
  /** Protocol type is not IPv4 (0x0800): vnet carries only raw inner IPv4 packets. */
  'unsupported-protocol',
  /** A critical option other than vnet's token is present (RFC 8926 §3.5: drop). */
  'unknown-critical-option',
  /** No vnet token option in the frame. */
  'missing-token-option',
  /** The token option has the wrong class, type or length. */
  'bad-token-option',
  /** Inner packet shorter than 20 bytes, than its IHL, or than its total length. */
  'ipv4-truncated',
  /** Inner packet's version nibble is not 4. */
  'ipv4-bad-version',
  /** Inner packet's IHL is below 5 words. */
  'ipv4-bad-ihl',
  /** Inner packet's total length is smaller than its header. */
  'ipv4-bad-total-length',
] as const;

/** One reason a frame was refused; see {@link DECODE_REASONS}. */
export type DecodeReason = (typeof DECODE_REASONS)[number];

/** Reasons the outer Geneve decoder ({@link decodeGeneve}) can give. */
export type GeneveReason = 'truncated' | 'bad-version' | 'bad-option-length';

/** Reasons the token option decoders can give. */
export type TokenReason = 'missing-token-option' | 'bad-token-option';

/** Reasons the inner IPv4 header parser can give. */
export type Ipv4Reason = 'ipv4-truncated' | 'ipv4-bad-version' | 'ipv4-bad-ihl' | 'ipv4-bad-total-length';

/** A decoded value. Byte fields inside `value` are views on the input, never copies. */
export interface Ok<T> {
  readonly ok: true;
  readonly value: T;
}

/** A refusal: the reason only (no message, no stack), cheap enough for every packet. */
export interface Fail<R extends DecodeReason = DecodeReason> {
  readonly ok: false;
  readonly reason: R;
}

/** What every decoder of this library returns; decoding never throws on any input. */
export type Decoded<T, R extends DecodeReason = DecodeReason> = Ok<T> | Fail<R>;

const FAILURES = Object.freeze(
  Object.fromEntries(DECODE_REASONS.map((reason) => [reason, Object.freeze({ ok: false, reason })])),
) as { readonly [K in DecodeReason]: Fail<K> };

/** Wraps a decoded value. */
export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

/** The shared, frozen refusal for `reason` (no allocation). */
export function fail<R extends DecodeReason>(reason: R): Fail<R> {
  return FAILURES[reason];
}

/** Per-reason drop counters, all at zero: `counters[r.reason]++` on each refusal. */
export type ReasonCounters = Record<DecodeReason, number>;

/** A fresh {@link ReasonCounters} with every reason present at zero. */
export function newReasonCounters(): ReasonCounters {
  return Object.fromEntries(DECODE_REASONS.map((r) => [r, 0])) as ReasonCounters;
}
