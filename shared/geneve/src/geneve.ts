/**
 * Geneve (RFC 8926) base header and option TLVs. Byte-level reads and writes on the
 * Uint8Array itself (no DataView: that would be one more allocation per packet).
 *
 * ```
 *  0                   1                   2                   3
 * |Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
 * |        Virtual Network Identifier (VNI)       |    Reserved   |
 * |          Option Class         |      Type     |R|R|R| Length  |   } repeated,
 * |                 Variable-Length Option Data                   |   } Opt Len words
 * ```
 */
import { fail, ok, type Decoded, type GeneveReason } from './result';

/** Geneve's IANA-assigned UDP destination port. */
export const GENEVE_UDP_PORT = 6081;
/** The only Geneve version defined; frames with any other version are dropped. */
export const GENEVE_VERSION = 0;
/** Length of the base header, before options. */
export const GENEVE_BASE_HEADER_LENGTH = 8;
/** Largest VNI (24 bits). */
export const GENEVE_VNI_MAX = 0xffffff;
/** Largest options area: Opt Len is 6 bits of 4-byte words. */
export const GENEVE_MAX_OPTIONS_LENGTH = 63 * 4;
/** Largest data of one option: Length is 5 bits of 4-byte words. */
export const GENEVE_MAX_OPTION_DATA_LENGTH = 31 * 4;
/** Protocol type of an inner IPv4 packet (an EtherType); vnet uses only this one. */
export const PROTOCOL_TYPE_IPV4 = 0x0800;
/** The critical bit of an option's type: a receiver that does not know it must drop. */
export const OPTION_TYPE_CRITICAL = 0x80;

/** One option TLV. `type` includes the critical bit; `data` is a multiple of 4 bytes. */
export interface GeneveOption {
  readonly optionClass: number;
  readonly type: number;
  readonly data: Uint8Array;
}

/** What the encoder needs. The C bit is derived from the options, never given. */
export interface GeneveHeaderInit {
  readonly vni: number;
  /** Defaults to {@link PROTOCOL_TYPE_IPV4}. */
  readonly protocolType?: number;
  /** The O bit (control message); defaults to false. */
  readonly oam?: boolean;
  readonly options?: readonly GeneveOption[];
}

/** A decoded frame. `options[i].data` and `payload` are views on the input bytes. */
export interface GeneveFrame {
  readonly version: number;
  readonly oam: boolean;
  /** The C bit as received (not checked against the options' critical bits). */
  readonly critical: boolean;
  readonly protocolType: number;
  readonly vni: number;
  readonly options: readonly GeneveOption[];
  /** Base header plus options, in bytes: where the payload starts. */
  readonly headerLength: number;
  readonly payload: Uint8Array;
}

/** True when the option's type has the critical bit set. */
export function isCriticalOption(option: GeneveOption): boolean {
  return (option.type & OPTION_TYPE_CRITICAL) !== 0;
}

function checkUint(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`geneve: ${name} ${v} not in 0..${max}`);
}

/** Bytes the header (base plus options) takes. Throws RangeError on an invalid option. */
export function geneveHeaderLength(options: readonly GeneveOption[] = []): number {
  let n = GENEVE_BASE_HEADER_LENGTH;
  for (const o of options) {
    const len = o.data.length;
    if (len % 4 !== 0 || len > GENEVE_MAX_OPTION_DATA_LENGTH) {
      throw new RangeError(`geneve: option data of ${len} bytes (multiple of 4, at most 124)`);
    }
    n += 4 + len;
  }
  if (n - GENEVE_BASE_HEADER_LENGTH > GENEVE_MAX_OPTIONS_LENGTH) throw new RangeError(`geneve: options exceed 252 bytes`);
  return n;
}

/**
 * Writes the header into `out` at `offset` and returns its length. Nothing is allocated, so
 * a header built once per peer can be sent with the packet as `send([header, packet])`.
 * Throws RangeError on a bug: a field out of range or `out` too small.
 */
export function encodeGeneveHeader(header: GeneveHeaderInit, out: Uint8Array, offset = 0): number {
  const options = header.options ?? [];
  const protocolType = header.protocolType ?? PROTOCOL_TYPE_IPV4;
  checkUint('vni', header.vni, GENEVE_VNI_MAX);
  checkUint('protocol type', protocolType, 0xffff);
  const length = geneveHeaderLength(options);
  if (offset < 0 || offset + length > out.length) throw new RangeError(`geneve: ${length} bytes do not fit at ${offset}`);
  let critical = false;
  for (const o of options) critical ||= isCriticalOption(o);
  out[offset] = (GENEVE_VERSION << 6) | ((length - GENEVE_BASE_HEADER_LENGTH) >>> 2);
  out[offset + 1] = (header.oam ? 0x80 : 0) | (critical ? 0x40 : 0);
  out[offset + 2] = protocolType >>> 8;
  out[offset + 3] = protocolType & 0xff;
  out[offset + 4] = header.vni >>> 16;
  out[offset + 5] = (header.vni >>> 8) & 0xff;
  out[offset + 6] = header.vni & 0xff;
  out[offset + 7] = 0;
  let p = offset + GENEVE_BASE_HEADER_LENGTH;
  for (const o of options) {
    checkUint('option class', o.optionClass, 0xffff);
    checkUint('option type', o.type, 0xff);
    out[p] = o.optionClass >>> 8;
    out[p + 1] = o.optionClass & 0xff;
    out[p + 2] = o.type;
    out[p + 3] = o.data.length >>> 2;
    out.set(o.data, p + 4);
    p += 4 + o.data.length;
  }
  return length;
}

/**
 * Header followed by a copy of `payload`: one contiguous frame. Written into `out` (and a
 * view on it returned) when given, so a reused buffer costs no allocation; else one new one.
 */
export function encodeGeneve(header: GeneveHeaderInit, payload: Uint8Array, out?: Uint8Array): Uint8Array {
  const total = geneveHeaderLength(header.options) + payload.length;
  const buf = out ?? new Uint8Array(total);
  if (buf.length < total) throw new RangeError(`geneve: frame of ${total} bytes exceeds buffer of ${buf.length}`);
  const h = encodeGeneveHeader(header, buf, 0);
  buf.set(payload, h);
  return buf.length === total ? buf : buf.subarray(0, total);
}

/**
 * Decodes a Geneve UDP payload. Never throws; never copies (options' data and the payload
 * are subarray views). Reserved bits are ignored on receipt, as RFC 8926 requires; any
 * protocol type is accepted here (vnet's own rules are in `decodeVnetFrame`).
 */
export function decodeGeneve(bytes: Uint8Array): Decoded<GeneveFrame, GeneveReason> {
  if (bytes.length < GENEVE_BASE_HEADER_LENGTH) return fail('truncated');
  const b0 = bytes[0]!;
  const version = b0 >>> 6;
  if (version !== GENEVE_VERSION) return fail('bad-version');
  const headerLength = GENEVE_BASE_HEADER_LENGTH + (b0 & 0x3f) * 4;
  if (bytes.length < headerLength) return fail('truncated');
  const optionsEnd = checkGeneveOptions(bytes, headerLength);
  if (optionsEnd !== headerLength) return fail('bad-option-length');
  return ok(geneveFrameAt(bytes, headerLength));
}

/**
 * Walks the option headers of `bytes[8, headerLength)` and returns where the last whole
 * option ends: `headerLength` when they tile the options area exactly, else the start of
 * the option that runs past it. Both ends are whole words, so at least one 4-byte option
 * header fits on each pass. Allocates nothing.
 */
export function checkGeneveOptions(bytes: Uint8Array, headerLength: number): number {
  let p = GENEVE_BASE_HEADER_LENGTH;
  while (p < headerLength) {
    const end = p + 4 + (bytes[p + 3]! & 0x1f) * 4;
    if (end > headerLength) return p;
    p = end;
  }
  return p;
}

/** The decoded frame of `bytes` whose version, lengths and options were already checked. */
export function geneveFrameAt(bytes: Uint8Array, headerLength: number): GeneveFrame {
  const b1 = bytes[1]!;
  const options: GeneveOption[] = [];
  let p = GENEVE_BASE_HEADER_LENGTH;
  while (p < headerLength) {
    const end = p + 4 + (bytes[p + 3]! & 0x1f) * 4;
    options.push({ optionClass: (bytes[p]! << 8) | bytes[p + 1]!, type: bytes[p + 2]!, data: bytes.subarray(p + 4, end) });
    p = end;
  }
  return {
    version: bytes[0]! >>> 6,
    oam: (b1 & 0x80) !== 0,
    critical: (b1 & 0x40) !== 0,
    protocolType: (bytes[2]! << 8) | bytes[3]!,
    vni: (bytes[4]! << 16) | (bytes[5]! << 8) | bytes[6]!,
    options,
    headerLength,
    payload: bytes.subarray(headerLength),
  };
}
