/**
 * A vnet data-plane frame: Geneve with protocol type IPv4, the VNI of the virtual network,
 * vnet's token option, then one raw inner IPv4 packet (no inner Ethernet). These functions
 * apply vnet's receive rules on top of the generic Geneve codec.
 */
import { decodeGeneve, isCriticalOption, PROTOCOL_TYPE_IPV4, GENEVE_VNI_MAX, type GeneveFrame } from './geneve';
import { parseIpv4Header, type Ipv4Packet } from './ipv4';
import { fail, ok, type Decoded } from './result';
import {
  findTokenOption,
  isTokenOption,
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
 * Decodes a received UDP payload with vnet's rules, in this order: Geneve decodes; not a
 * control (O) frame; protocol type IPv4; no critical option but the token (RFC 8926 §3.5);
 * a well-formed token option; a well-formed inner IPv4 header. Unknown non-critical options
 * are ignored. Never throws. The token is read, not verified: that is the caller's next step.
 */
export function decodeVnetFrame(bytes: Uint8Array): Decoded<VnetFrame> {
  const g = decodeGeneve(bytes);
  if (!g.ok) return g;
  const geneve = g.value;
  if (geneve.oam) return fail('oam-frame');
  if (geneve.protocolType !== PROTOCOL_TYPE_IPV4) return fail('unsupported-protocol');
  for (const o of geneve.options) {
    if (isCriticalOption(o) && !isTokenOption(o)) return fail('unknown-critical-option');
  }
  const t = findTokenOption(geneve.options);
  if (!t.ok) return t;
  const inner = parseIpv4Header(geneve.payload);
  if (!inner.ok) return inner;
  return ok({ vni: geneve.vni, token: t.value, inner: inner.value, geneve });
}
