/**
 * A vnet data-plane frame: Geneve with protocol type IPv4, the VNI of the virtual network,
 * vnet's token option, then one raw inner IPv4 packet (no inner Ethernet). These functions
 * apply vnet's receive rules on top of the generic Geneve codec.
 */
import {
  checkGeneveOptions,
  geneveFrameAt,
  GENEVE_BASE_HEADER_LENGTH,
  GENEVE_VERSION,
  OPTION_TYPE_CRITICAL,
  PROTOCOL_TYPE_IPV4,
  GENEVE_VNI_MAX,
  type GeneveFrame,
} from './geneve';
import { checkIpv4Header, ipv4DstAt, ipv4PacketAt, ipv4SrcAt, type Ipv4Packet } from './ipv4';
import { fail, ok, type Decoded, type DecodeReason } from './result';
import {
  tokenOptionAt,
  writeTokenOptionData,
  VNET_OPTION_CLASS,
  VNET_TOKEN_OPTION_DATA_LENGTH,
  VNET_TOKEN_OPTION_TYPE,
  type TokenOption,
} from './token';

/** Bytes before the inner packet in a frame vnet sends: 8 base + 4 option header + 24. */
export const VNET_HEADER_LENGTH = 8 + 4 + VNET_TOKEN_OPTION_DATA_LENGTH;

/** A received frame that passed every rule; `inner.payload` is a view on the input. */
export interface VnetFrame {
  readonly vni: number;
  readonly token: TokenOption;
  /** The inner IPv4 header, parsed; its bytes are `geneve.payload`. */
  readonly inner: Ipv4Packet;
  /** The whole Geneve decode, for options vnet does not read. */
  readonly geneve: GeneveFrame;
}

/**
 * Writes the 36-byte vnet header (base header with the C bit, then the token option) into
 * `out` at `offset`, allocating nothing. The header depends only on the VNI and the token,
 * so a sender can build it once per peer and send `[header, packet]` as one datagram.
 * Throws RangeError on a bug (VNI or token fields out of range, `out` too small).
 */
export function encodeVnetHeader(vni: number, token: TokenOption, out: Uint8Array, offset = 0): number {
  if (!Number.isInteger(vni) || vni < 0 || vni > GENEVE_VNI_MAX) throw new RangeError(`geneve: vni ${vni} not in 0..${GENEVE_VNI_MAX}`);
  if (offset < 0 || offset + VNET_HEADER_LENGTH > out.length) throw new RangeError('geneve: vnet header does not fit');
  writeTokenOptionData(token, out, offset + 12);
  out[offset] = (VNET_HEADER_LENGTH - 8) >>> 2; // version 0, Opt Len 7 words
  out[offset + 1] = 0x40; // C: the token option is critical
  out[offset + 2] = PROTOCOL_TYPE_IPV4 >>> 8;
  out[offset + 3] = PROTOCOL_TYPE_IPV4 & 0xff;
  out[offset + 4] = vni >>> 16;
  out[offset + 5] = (vni >>> 8) & 0xff;
  out[offset + 6] = vni & 0xff;
  out[offset + 7] = 0;
  out[offset + 8] = VNET_OPTION_CLASS >>> 8;
  out[offset + 9] = VNET_OPTION_CLASS & 0xff;
  out[offset + 10] = VNET_TOKEN_OPTION_TYPE;
  out[offset + 11] = VNET_TOKEN_OPTION_DATA_LENGTH >>> 2;
  return VNET_HEADER_LENGTH;
}

/**
 * A whole frame: vnet header followed by a copy of the inner packet, written into `out`
 * when given (a view on it is returned), else into one new buffer. The packet is not checked.
 */
export function encodeVnetFrame(vni: number, token: TokenOption, packet: Uint8Array, out?: Uint8Array): Uint8Array {
  const total = VNET_HEADER_LENGTH + packet.length;
  const buf = out ?? new Uint8Array(total);
  if (buf.length < total) throw new RangeError(`geneve: frame of ${total} bytes exceeds buffer of ${buf.length}`);
  encodeVnetHeader(vni, token, buf, 0);
  buf.set(packet, VNET_HEADER_LENGTH);
  return buf.length === total ? buf : buf.subarray(0, total);
}

/**
 * What {@link scanVnetFrame} reads from an accepted frame: numbers and offsets into it, no
 * view and no copy. One object is meant to be reused for every packet; its fields are only
 * meaningful after a scan that returned `undefined`, until the next scan.
 */
export interface VnetFrameInfo {
  vni: number;
  /** Where the token option's 24 data bytes start: key id (u32), expiry (u32), token (16). */
  tokenOffset: number;
  /** Where the inner IPv4 packet starts (the Geneve header length); it runs to the end of the bytes. */
  innerOffset: number;
  /** Inner source and destination addresses (u32). */
  innerSrc: number;
  innerDst: number;
}

/** A {@link VnetFrameInfo} to reuse across scans. */
export function newVnetFrameInfo(): VnetFrameInfo {
  return { vni: 0, tokenOffset: 0, innerOffset: 0, innerSrc: 0, innerDst: 0 };
}

/**
 * vnet's receive rules (see {@link decodeVnetFrame}, which is built on this) without
 * allocating: returns the reason a frame is refused, or `undefined` after filling `out`.
 * Same rules, same order, same reasons: Geneve decodes (length, version, option lengths);
 * not an O frame; protocol type IPv4; no critical option but the token; the first token
 * option is 24 bytes; a well-formed inner IPv4 header. Never throws.
 */
export function scanVnetFrame(bytes: Uint8Array, out: VnetFrameInfo): DecodeReason | undefined {
  if (bytes.length < GENEVE_BASE_HEADER_LENGTH) return 'truncated';
  const b0 = bytes[0]!;
  if (b0 >>> 6 !== GENEVE_VERSION) return 'bad-version';
  const headerLength = GENEVE_BASE_HEADER_LENGTH + (b0 & 0x3f) * 4;
  if (bytes.length < headerLength) return 'truncated';
  if (checkGeneveOptions(bytes, headerLength) !== headerLength) return 'bad-option-length';
  if ((bytes[1]! & 0x80) !== 0) return 'oam-frame';
  if (((bytes[2]! << 8) | bytes[3]!) !== PROTOCOL_TYPE_IPV4) return 'unsupported-protocol';
  // Options tile the area exactly (checked above). Any critical option but the token refuses
  // the frame, wherever it is; the first token option is the one read.
  let token = -1;
  let tokenLength = 0;
  for (let p = GENEVE_BASE_HEADER_LENGTH; p < headerLength; ) {
    const type = bytes[p + 2]!;
    const dataLength = (bytes[p + 3]! & 0x1f) * 4;
    const isToken = type === VNET_TOKEN_OPTION_TYPE && ((bytes[p]! << 8) | bytes[p + 1]!) === VNET_OPTION_CLASS;
    if (isToken) {
      if (token < 0) {
        token = p + 4;
        tokenLength = dataLength;
      }
    } else if ((type & OPTION_TYPE_CRITICAL) !== 0) {
      return 'unknown-critical-option';
    }
    p += 4 + dataLength;
  }
  if (token < 0) return 'missing-token-option';
  if (tokenLength !== VNET_TOKEN_OPTION_DATA_LENGTH) return 'bad-token-option';
  const inner = checkIpv4Header(bytes, headerLength);
  if (inner !== undefined) return inner;
  out.vni = (bytes[4]! << 16) | (bytes[5]! << 8) | bytes[6]!;
  out.tokenOffset = token;
  out.innerOffset = headerLength;
  out.innerSrc = ipv4SrcAt(bytes, headerLength);
  out.innerDst = ipv4DstAt(bytes, headerLength);
  return undefined;
}

const scratch = newVnetFrameInfo();

/**
 * Decodes a received UDP payload with vnet's rules, in this order: Geneve decodes; not a
 * control (O) frame; protocol type IPv4; no critical option but the token (RFC 8926 §3.5);
 * a well-formed token option; a well-formed inner IPv4 header. Unknown non-critical options
 * are ignored. Never throws. The token is read, not verified: that is the caller's next step.
 * The rules are {@link scanVnetFrame}'s; this adds the objects (for a packet path that needs
 * none, scan instead).
 */
export function decodeVnetFrame(bytes: Uint8Array): Decoded<VnetFrame> {
  const refused = scanVnetFrame(bytes, scratch);
  if (refused !== undefined) return fail(refused);
  const geneve = geneveFrameAt(bytes, scratch.innerOffset);
  return ok({ vni: geneve.vni, token: tokenOptionAt(bytes, scratch.tokenOffset), inner: ipv4PacketAt(geneve.payload), geneve });
}
