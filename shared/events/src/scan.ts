/**
 * Hand-written scanners for the string brands on the decode hot path. Each one accepts exactly
 * the strings its regex in `ids.ts` / `net.ts` accepts (the regexes stay the source of truth:
 * they are the JSON Schema patterns, and `test/scan.unit.spec.ts` checks the two agree); these
 * only avoid the regex engine, which cost a fifth of a decode.
 */

const DIGIT = 1; // 0-9
const HEX = 2; // 0-9 a-f (lowercase only)
const ID = 4; // a-z 0-9 _ -   (rest of an aggregate id)
const ID_START = 8; // a-z 0-9
const LABEL = 16; // A-Z a-z 0-9 -   (DNS label)
const ALPHA = 32; // A-Z a-z
const B64 = 64; // A-Z a-z 0-9 + /

// Indexed by UTF-16 code unit (all 65536 of them, so a lookup needs no range check).
const CLASSES = new Uint8Array(65536);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  const digit = c >= 48 && c <= 57;
  const lower = c >= 97 && c <= 122;
  const alpha = lower || (c >= 65 && c <= 90);
  CLASSES[c] =
    (digit ? DIGIT : 0) |
    (digit || (c >= 97 && c <= 102) ? HEX : 0) |
    (digit || lower || ch === '_' || ch === '-' ? ID : 0) |
    (digit || lower ? ID_START : 0) |
    (digit || alpha || ch === '-' ? LABEL : 0) |
    (alpha ? ALPHA : 0) |
    (digit || alpha || ch === '+' || ch === '/' ? B64 : 0);
}

/** The classes of the UTF-16 code unit at `i` (0 past the end, where `charCodeAt` is NaN). */
function classOf(s: string, i: number): number {
  return (CLASSES[s.charCodeAt(i)] as number | undefined) ?? 0;
}

/** The value of the two decimal digits at `i`, or -1. */
function twoDigits(s: string, i: number): number {
  if ((classOf(s, i) & classOf(s, i + 1) & DIGIT) === 0) return -1;
  return (s.charCodeAt(i) - 48) * 10 + (s.charCodeAt(i + 1) - 48);
}

/** True when every code unit of `s[from, to)` has class `bit` (no early exit: this loop is hot). */
function allOf(s: string, from: number, to: number, bit: number): boolean {
  let all = bit;
  for (let i = from; i < to; i++) all &= CLASSES[s.charCodeAt(i)] as number;
  return all !== 0;
}

/** `UUID_PATTERN`: lowercase 8-4-4-4-12 hex. */
export function isUuid(s: string): boolean {
  if (s.length !== 36) return false;
  if (s.charCodeAt(8) !== 45 || s.charCodeAt(13) !== 45 || s.charCodeAt(18) !== 45 || s.charCodeAt(23) !== 45) return false;
  return allOf(s, 0, 8, HEX) && allOf(s, 9, 13, HEX) && allOf(s, 14, 18, HEX) && allOf(s, 19, 23, HEX) && allOf(s, 24, 36, HEX);
}

/** `AGGREGATE_ID_PATTERN`: 1–63 of `a-z 0-9 _ -`, the first a letter or digit. */
export function isAggregateId(s: string): boolean {
  const n = s.length;
  return n >= 1 && n <= 63 && (classOf(s, 0) & ID_START) !== 0 && allOf(s, 1, n, ID);
}

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/**
 * `ISO_TIMESTAMP_PATTERN`, a day that exists in its month, and `Date.parse` accepting it.
 * `Date.parse` is only asked for 1–2 or 4–9 fraction digits: every other accepted string is in
 * ECMAScript's own Date Time String Format with legal field values, which it must parse.
 */
export function isIsoTimestampScan(s: string): boolean {
  const n = s.length;
  if (n < 20 || n > 35) return false;
  if (!allOf(s, 0, 4, DIGIT)) return false;
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84) return false;
  if (s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return false;
  const month = twoDigits(s, 5);
  const day = twoDigits(s, 8);
  const hour = twoDigits(s, 11);
  const minute = twoDigits(s, 14);
  const second = twoDigits(s, 17);
  if (month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
    return false;
  }
  const year = twoDigits(s, 0) * 100 + twoDigits(s, 2);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (day > (month === 2 && leap ? 29 : (DAYS_IN_MONTH[month] as number))) return false;
  let i = 19;
  let fraction = 0;
  if (s.charCodeAt(i) === 46) {
    i++;
    while ((classOf(s, i) & DIGIT) !== 0) i++;
    fraction = i - 20;
    if (fraction < 1 || fraction > 9) return false;
  }
  const zone = s.charCodeAt(i);
  if (zone === 90) {
    if (i + 1 !== n) return false;
  } else if (zone === 43 || zone === 45) {
    if (i + 6 !== n || s.charCodeAt(i + 3) !== 58) return false;
    const h = twoDigits(s, i + 1);
    const m = twoDigits(s, i + 4);
    if (h < 0 || h > 23 || m < 0 || m > 59) return false;
  } else return false;
  return fraction === 0 || fraction === 3 || Number.isFinite(Date.parse(s));
}

/** The 32-bit value of the canonical dotted quad `s[from, to)` (`IPV4_PATTERN`), or -1. */
export function ipv4At(s: string, from: number, to: number): number {
  let value = 0;
  let i = from;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= to || s.charCodeAt(i) !== 46) return -1;
      i++;
    }
    const start = i;
    let octet = 0;
    while (i < to && i - start < 4 && (classOf(s, i) & DIGIT) !== 0) octet = octet * 10 + s.charCodeAt(i++) - 48;
    const len = i - start;
    if (len === 0 || len > 3 || octet > 255 || (len > 1 && s.charCodeAt(start) === 48)) return -1;
    value = value * 256 + octet;
  }
  return i === to ? value : -1;
}

/** A decimal `s[from, to)` without leading zeros in `min..max` (at most 5 digits), or -1. */
function numberAt(s: string, from: number, to: number, min: number, max: number): number {
  const len = to - from;
  if (len < 1 || len > 5 || (len > 1 && s.charCodeAt(from) === 48)) return -1;
  let value = 0;
  for (let i = from; i < to; i++) {
    if ((classOf(s, i) & DIGIT) === 0) return -1;
    value = value * 10 + s.charCodeAt(i) - 48;
  }
  return value >= min && value <= max ? value : -1;
}

/** `CIDR_PATTERN` with no host bits set. */
export function isCidrScan(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash < 0) return false;
  const ip = ipv4At(s, 0, slash);
  const prefix = numberAt(s, slash + 1, s.length, 0, 32);
  if (ip < 0 || prefix < 0) return false;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return ((ip & mask) >>> 0) === ip;
}

/** The DNS name of `UNDERLAY_ADDRESS_PATTERN`: at most 253 chars of labels, the last with a letter. */
function isDnsName(s: string, from: number, to: number): boolean {
  if (to - from > 253) return false;
  let start = from;
  for (;;) {
    let end = s.indexOf('.', start);
    if (end < 0 || end > to) end = to;
    if (end - start < 1 || end - start > 63) return false;
    if (s.charCodeAt(start) === 45 || s.charCodeAt(end - 1) === 45) return false;
    let letter = false;
    for (let i = start; i < end; i++) {
      const k = classOf(s, i);
      if ((k & LABEL) === 0) return false;
      if ((k & ALPHA) !== 0) letter = true;
    }
    if (end === to) return letter;
    start = end + 1;
  }
}

/** `UNDERLAY_ADDRESS_PATTERN`: IPv4 address or DNS name, `:`, port 1..65535. */
export function isUnderlayAddressScan(s: string): boolean {
  const colon = s.indexOf(':');
  if (colon < 1 || numberAt(s, colon + 1, s.length, 1, 65535) < 0) return false;
  return ipv4At(s, 0, colon) >= 0 || isDnsName(s, 0, colon);
}

/** `PUBLIC_KEY_PATTERN`: 42 base64 characters, one with 4 zero low bits, `=`. */
export function isPublicKeyScan(s: string): boolean {
  if (s.length !== 44 || s.charCodeAt(43) !== 61 || !'AEIMQUYcgkosw048'.includes(s.charAt(42))) return false;
  return allOf(s, 0, 42, B64);
}
