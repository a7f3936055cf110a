/**
 * vnet's token option: the layout only. How the token is computed and checked (which MAC,
 * over which fields, with which key) belongs to another library.
 *
 * ```
 *  0                   1                   2                   3
 * |   Option Class = 0xFFF6       | Type = 0x81   |R|R|R| Len = 6 |
 * |                          Key id (u32)                         |
 * |              Expiry (u32, unix seconds, unsigned)             |
 * |                                                               |
 * |                Token (16 bytes: truncated MAC)                |
 * |                                                               |
 * |                                                               |
 * ```
 * 28 bytes with its option header, so a vnet Geneve header is 36 bytes.
 */
import { type GeneveOption } from './geneve';
import { fail, ok, type Decoded, type TokenReason } from './result';

/**
 * Option class of vnet's options. 0xFFF0..0xFFFF is "Experimental Use" in the IANA Geneve
 * Option Class registry (RFC 8926 §7): usable without registration inside one deployment,
 * which is what vnet is. A public release would ask IANA for a first-come-first-served class
 * (0x0100..0xFEFF). 0xFFF6 rather than the range's ends, which other experiments pick first.
 */
export const VNET_OPTION_CLASS = 0xfff6;

/**
 * Option type of the token option: type 1 with the critical bit (0x80) set, so a receiver
 * that cannot check tokens drops the frame instead of delivering it unchecked (fail closed).
 * A new layout would take a new type, never change this one.
 */
export const VNET_TOKEN_OPTION_TYPE = 0x81;

/** Token length in bytes: a MAC truncated to 128 bits, the tag size of GCM and Poly1305. */
export const VNET_TOKEN_LENGTH = 16;

/** Bytes of the option's data: key id (4) + expiry (4) + token (16). */
export const VNET_TOKEN_OPTION_DATA_LENGTH = 8 + VNET_TOKEN_LENGTH;

/** Largest expiry: u32 unix seconds reach 2106-02-07. */
export const VNET_TOKEN_EXPIRY_MAX = 0xffffffff;

/**
 * The token option's fields. Expiry is u32 seconds, not u64 milliseconds: tokens live for
 * minutes, seconds are fine-grained enough, it saves 4 bytes in every packet, and a single
 * u32 read needs no BigInt on the receive path.
 */
export interface TokenOption {
  /** Which key made the token, so keys can rotate with both in use. */
  readonly keyId: number;
  /** Unix time in seconds after which the token is no longer valid. */
  readonly expiresAt: number;
  /** Exactly {@link VNET_TOKEN_LENGTH} bytes; a view on the input when decoded. */
  readonly token: Uint8Array;
}

function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`token option: ${name} ${v} not a u32`);
}

/** Writes the option's 24 data bytes into `out` at `offset`. Throws RangeError on a bug. */
export function writeTokenOptionData(t: TokenOption, out: Uint8Array, offset = 0): void {
  checkU32('key id', t.keyId);
  checkU32('expiry', t.expiresAt);
  if (t.token.length !== VNET_TOKEN_LENGTH) throw new RangeError(`token option: token of ${t.token.length} bytes, not 16`);
  if (offset < 0 || offset + VNET_TOKEN_OPTION_DATA_LENGTH > out.length) throw new RangeError('token option: does not fit');
  out[offset] = t.keyId >>> 24;
  out[offset + 1] = (t.keyId >>> 16) & 0xff;
  out[offset + 2] = (t.keyId >>> 8) & 0xff;
  out[offset + 3] = t.keyId & 0xff;
  out[offset + 4] = t.expiresAt >>> 24;
  out[offset + 5] = (t.expiresAt >>> 16) & 0xff;
  out[offset + 6] = (t.expiresAt >>> 8) & 0xff;
  out[offset + 7] = t.expiresAt & 0xff;
  out.set(t.token, offset + 8);
}

/** The token as a Geneve option (one 24-byte allocation), ready for `encodeGeneveHeader`. */
export function encodeTokenOption(t: TokenOption): GeneveOption {
  const data = new Uint8Array(VNET_TOKEN_OPTION_DATA_LENGTH);
  writeTokenOptionData(t, data);
  return { optionClass: VNET_OPTION_CLASS, type: VNET_TOKEN_OPTION_TYPE, data };
}

/** True when the option is vnet's token option (class and type), whatever its length. */
export function isTokenOption(o: GeneveOption): boolean {
  return o.optionClass === VNET_OPTION_CLASS && o.type === VNET_TOKEN_OPTION_TYPE;
}

const u32 = (b: Uint8Array, i: number): number =>
  ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;

/** Reads a token option. Never throws; `token` is a view on the option's data. */
export function decodeTokenOption(o: GeneveOption): Decoded<TokenOption, TokenReason> {
  if (!isTokenOption(o) || o.data.length !== VNET_TOKEN_OPTION_DATA_LENGTH) return fail('bad-token-option');
  return ok(tokenOptionAt(o.data, 0));
}

/** The token option whose 24 data bytes start at `bytes[offset]` (`token` is a view). */
export function tokenOptionAt(bytes: Uint8Array, offset: number): TokenOption {
  return { keyId: u32(bytes, offset), expiresAt: u32(bytes, offset + 4), token: bytes.subarray(offset + 8, offset + 8 + VNET_TOKEN_LENGTH) };
}

/** Finds and reads the first token option in a frame's options. Never throws. */
export function findTokenOption(options: readonly GeneveOption[]): Decoded<TokenOption, TokenReason> {
  for (const o of options) if (isTokenOption(o)) return decodeTokenOption(o);
  return fail('missing-token-option');
}
