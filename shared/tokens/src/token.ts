/**
 * Pair tokens. A token is HMAC-SHA256, truncated to 16 bytes, keyed with the DESTINATION
 * VM's secret key, over a fixed binary layout of everything the destination host must
 * agree with before it delivers a packet:
 *
 * ```
 * "vnet-token-v1" | VNI u32 | source IPv4 u32 | destination IPv4 u32 |
 * destination host underlay (u8 length + UTF-8) | key id u32 | expiry u32 (unix seconds)
 * ```
 * (integers big-endian). The token issuer, which holds the key, makes tokens; the source
 * host only carries them (it never sees the key); the destination host, which can open the
 * key sealed to it, recomputes and compares in constant time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Bytes of a token (the Geneve option carries exactly this many). */
export const TOKEN_LENGTH = 16;
const LABEL = Buffer.from('vnet-token-v1');

/** What a token vouches for. */
export interface TokenFields {
  readonly vni: number;
  /** Source virtual IPv4 as u32. */
  readonly src: number;
  /** Destination virtual IPv4 as u32. */
  readonly dst: number;
  /** The destination host's underlay address (`host:port`) the token is valid at. */
  readonly dstUnderlay: string;
  readonly keyId: number;
  /** Unix seconds after which the token is no longer accepted. */
  readonly expiry: number;
}

const u32 = (name: string, n: number) => {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`token ${name} must be a u32, got ${n}`);
  return n;
};

/** The bytes the MAC is computed over. */
export function tokenInput(f: TokenFields): Buffer {
  const underlay = Buffer.from(f.dstUnderlay, 'utf8');
  if (underlay.length > 255) throw new RangeError(`token underlay address longer than 255 bytes: ${f.dstUnderlay.slice(0, 40)}…`);
  const b = Buffer.allocUnsafe(LABEL.length + 12 + 1 + underlay.length + 8);
  let at = LABEL.copy(b, 0);
  at = b.writeUInt32BE(u32('vni', f.vni), at);
  at = b.writeUInt32BE(u32('src', f.src), at);
  at = b.writeUInt32BE(u32('dst', f.dst), at);
  at = b.writeUInt8(underlay.length, at);
  at += underlay.copy(b, at);
  at = b.writeUInt32BE(u32('keyId', f.keyId), at);
  b.writeUInt32BE(u32('expiry', f.expiry), at);
  return b;
}

/** The token for `fields`, made with the destination VM's `key`. */
export function mintToken(key: Uint8Array, fields: TokenFields): Buffer {
  return createHmac('sha256', key).update(tokenInput(fields)).digest().subarray(0, TOKEN_LENGTH);
}

/** True when `token` is the token of `fields` under `key`; compares in constant time. */
export function tokenMatches(key: Uint8Array, fields: TokenFields, token: Uint8Array): boolean {
  if (token.length !== TOKEN_LENGTH) return false;
  return timingSafeEqual(mintToken(key, fields), token);
}
