/**
 * A minimal IPv4 header parser for the inner packet (what a VM's TUN device gives), and the
 * RFC 1071 checksum. Addresses are u32 numbers on the packet path (no string per packet);
 * {@link ipv4ToString} and {@link ipv4FromString} convert at the edges.
 */
import { fail, ok, type Decoded, type Ipv4Reason } from './result';

/** Shortest IPv4 header (IHL 5). */
export const IPV4_MIN_HEADER_LENGTH = 20;

/** IP protocol numbers vnet looks at. */
export const IP_PROTOCOL = { ICMP: 1, TCP: 6, UDP: 17 } as const;

/** The parsed header of an inner IPv4 packet. */
export interface Ipv4Packet {
  readonly version: 4;
  /** Header length in 4-byte words (5..15). */
  readonly ihl: number;
  /** Header length in bytes (`ihl * 4`). */
  readonly headerLength: number;
  /** Total length from the header: header plus data, in bytes. */
  readonly totalLength: number;
  readonly ttl: number;
  /** IP protocol number; see {@link IP_PROTOCOL}. */
  readonly protocol: number;
  /** Source address as an unsigned 32-bit number (10.1.0.10 is 0x0a01000a). */
  readonly src: number;
  /** Destination address as an unsigned 32-bit number. */
  readonly dst: number;
  /** The packet's data after the header, up to `totalLength`: a view, not a copy. */
  readonly payload: Uint8Array;
}

const u32 = (b: Uint8Array, i: number): number =>
  ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;

/**
 * The rules of {@link parseIpv4Header} for the packet starting at `bytes[offset]` and ending
 * at `bytes.length`, without building anything: the refusal, or `undefined` when the header
 * is well-formed (then {@link ipv4SrcAt} and {@link ipv4DstAt} read the addresses). For the
 * packet path, where one result object per packet is one too many. Never throws.
 */
export function checkIpv4Header(bytes: Uint8Array, offset = 0): Ipv4Reason | undefined {
  const available = bytes.length - offset;
  if (available < IPV4_MIN_HEADER_LENGTH) return 'ipv4-truncated';
  const b0 = bytes[offset]!;
  if (b0 >>> 4 !== 4) return 'ipv4-bad-version';
  const ihl = b0 & 0x0f;
  if (ihl < 5) return 'ipv4-bad-ihl';
  const headerLength = ihl * 4;
  if (available < headerLength) return 'ipv4-truncated';
  const totalLength = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
  if (totalLength < headerLength) return 'ipv4-bad-total-length';
  if (totalLength > available) return 'ipv4-truncated';
  return undefined;
}

/** Source address (u32) of the IPv4 header at `offset`; the header must have passed {@link checkIpv4Header}. */
export const ipv4SrcAt = (bytes: Uint8Array, offset = 0): number => u32(bytes, offset + 12);

/** Destination address (u32) of the IPv4 header at `offset`; the header must have passed {@link checkIpv4Header}. */
export const ipv4DstAt = (bytes: Uint8Array, offset = 0): number => u32(bytes, offset + 16);

/**
 * Parses the IPv4 header at the start of `bytes`. Never throws: a wrong version, IHL below 5,
 * total length below the header or above the bytes given are refusals. Trailing bytes past
 * the total length (link padding) are allowed and left out of `payload`. The checksum is not
 * verified here (see {@link internetChecksum}); options are skipped, not read.
 */
export function parseIpv4Header(bytes: Uint8Array): Decoded<Ipv4Packet, Ipv4Reason> {
  const refused = checkIpv4Header(bytes, 0);
  return refused === undefined ? ok(ipv4PacketAt(bytes)) : fail(refused);
}

/** The parsed header of a packet at the start of `bytes` that passed {@link checkIpv4Header}. */
export function ipv4PacketAt(bytes: Uint8Array): Ipv4Packet {
  const ihl = bytes[0]! & 0x0f;
  const headerLength = ihl * 4;
  const totalLength = (bytes[2]! << 8) | bytes[3]!;
  return {
    version: 4,
    ihl,
    headerLength,
    totalLength,
    ttl: bytes[8]!,
    protocol: bytes[9]!,
    src: u32(bytes, 12),
    dst: u32(bytes, 16),
    payload: bytes.subarray(headerLength, totalLength),
  };
}

/**
 * RFC 1071 Internet checksum of `bytes[start, end)`: write it into a header whose checksum
 * field is zero; over a header that already holds a correct checksum it returns 0.
 */
export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let sum = 0;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i < end) sum += bytes[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Dotted-quad form of a u32 address: `ipv4ToString(0x0a01000a) === '10.1.0.10'`. */
export function ipv4ToString(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

/** The u32 of a dotted quad, or `undefined` when `s` is not exactly four decimal octets. */
export function ipv4FromString(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  let addr = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) return undefined;
    addr = addr * 256 + octet;
  }
  return addr;
}
