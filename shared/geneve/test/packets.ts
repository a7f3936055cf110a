/**
 * Test helpers: hand-built packets (inner IPv4 + ICMP echo, outer IPv4 + UDP) with correct
 * checksums, and fast-check arbitraries for frames. Test-only: nothing in src/ uses this.
 */
import fc from 'fast-check';
import { internetChecksum, type GeneveOption, type TokenOption } from '../src/index';

/** An IPv4 packet: 20-byte header (plus `options`, a multiple of 4) with a valid checksum. */
export function ipv4Packet(src: number, dst: number, protocol: number, payload: Uint8Array, options = new Uint8Array(0)): Uint8Array {
  const hl = 20 + options.length;
  const p = new Uint8Array(hl + payload.length);
  const v = new DataView(p.buffer);
  p[0] = 0x40 | (hl >>> 2);
  v.setUint16(2, p.length);
  v.setUint16(4, 0x1234); // identification
  p[6] = 0x40; // DF
  p[8] = 64; // TTL
  p[9] = protocol;
  v.setUint32(12, src);
  v.setUint32(16, dst);
  p.set(options, 20);
  v.setUint16(10, internetChecksum(p, 0, hl));
  p.set(payload, hl);
  return p;
}

/** An ICMP echo request with a valid checksum. */
export function icmpEcho(id: number, seq: number, data: Uint8Array): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  const v = new DataView(m.buffer);
  m[0] = 8;
  v.setUint16(4, id);
  v.setUint16(6, seq);
  m.set(data, 8);
  v.setUint16(2, internetChecksum(m));
  return m;
}

/** A UDP datagram inside IPv4, checksum over the pseudo-header included. */
export function udpInIpv4(src: number, dst: number, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const udp = new Uint8Array(8 + payload.length);
  const uv = new DataView(udp.buffer);
  uv.setUint16(0, sport);
  uv.setUint16(2, dport);
  uv.setUint16(4, udp.length);
  udp.set(payload, 8);
  const pseudo = new Uint8Array(12 + udp.length);
  const pv = new DataView(pseudo.buffer);
  pv.setUint32(0, src);
  pv.setUint32(4, dst);
  pseudo[9] = 17;
  pv.setUint16(10, udp.length);
  pseudo.set(udp, 12);
  uv.setUint16(6, internetChecksum(pseudo) || 0xffff);
  return ipv4Packet(src, dst, 17, udp);
}

/** Any u32. */
export const u32Arb = fc.integer({ min: 0, max: 0xffffffff });

/** Any well-formed token option. */
export const tokenArb: fc.Arbitrary<TokenOption> = fc.record({
  keyId: u32Arb,
  expiresAt: u32Arb,
  token: fc.uint8Array({ minLength: 16, maxLength: 16 }),
});

/** Any option the encoder accepts. */
export const optionArb: fc.Arbitrary<GeneveOption> = fc.record({
  optionClass: fc.integer({ min: 0, max: 0xffff }),
  type: fc.integer({ min: 0, max: 0xff }),
  data: fc.integer({ min: 0, max: 31 }).chain((w) => fc.uint8Array({ minLength: w * 4, maxLength: w * 4 })),
});

/** Option lists that fit the 252-byte options area. */
export const optionsArb = fc
  .array(optionArb, { maxLength: 8 })
  .filter((os) => os.reduce((n, o) => n + 4 + o.data.length, 0) <= 252);

/** A well-formed inner IPv4 packet with random addresses, protocol, options and payload. */
export const innerPacketArb = fc
  .record({
    src: u32Arb,
    dst: u32Arb,
    protocol: fc.integer({ min: 0, max: 255 }),
    optionWords: fc.integer({ min: 0, max: 10 }),
    payload: fc.uint8Array({ maxLength: 300 }),
  })
  .map(({ src, dst, protocol, optionWords, payload }) =>
    ipv4Packet(src, dst, protocol, payload, new Uint8Array(optionWords * 4).fill(1)),
  );

/** Plain bytes (not a Buffer), so deepStrictEqual compares like with like. */
export const bytes = (xs: ArrayLike<number>): number[] => Array.from(xs);
