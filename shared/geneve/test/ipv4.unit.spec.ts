/** The inner IPv4 header parser and the address helpers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { internetChecksum, ipv4FromString, ipv4ToString, parseIpv4Header, IP_PROTOCOL } from '../src/index';
import { bytes, icmpEcho, innerPacketArb, ipv4Packet, u32Arb } from './packets';

const A = ipv4FromString('10.1.0.10')!;
const B = ipv4FromString('10.1.0.12')!;

describe('parseIpv4Header', () => {
  it('reads a well-formed packet; payload is a view up to total length', () => {
    fc.assert(
      fc.property(innerPacketArb, fc.uint8Array({ maxLength: 30 }), (p, padding) => {
        const withPadding = new Uint8Array([...p, ...padding]);
        const r = parseIpv4Header(withPadding);
        assert.ok(r.ok);
        const h = r.value;
        assert.equal(h.totalLength, p.length);
        assert.equal(h.headerLength, h.ihl * 4);
        assert.equal(h.src, new DataView(p.buffer).getUint32(12));
        assert.equal(h.dst, new DataView(p.buffer).getUint32(16));
        assert.equal(h.protocol, p[9]);
        assert.deepEqual(bytes(h.payload), bytes(p.subarray(h.headerLength)));
        assert.equal(h.payload.buffer, withPadding.buffer);
        assert.equal(internetChecksum(p, 0, h.headerLength), 0);
      }),
    );
  });

  it('reads an ICMP echo 10.1.0.10 → 10.1.0.12', () => {
    const r = parseIpv4Header(ipv4Packet(A, B, IP_PROTOCOL.ICMP, icmpEcho(1, 1, new Uint8Array(8))));
    assert.ok(r.ok);
    assert.deepEqual(
      [r.value.version, r.value.ihl, r.value.totalLength, r.value.ttl, r.value.protocol, ipv4ToString(r.value.src), ipv4ToString(r.value.dst)],
      [4, 5, 36, 64, IP_PROTOCOL.ICMP, '10.1.0.10', '10.1.0.12'],
    );
  });

  const good = () => ipv4Packet(A, B, 1, new Uint8Array(8));
  const cases: Array<[string, (p: Uint8Array) => Uint8Array, string]> = [
    ['shorter than 20 bytes', (p) => p.subarray(0, 19), 'ipv4-truncated'],
    ['version 6', (p) => ((p[0] = 0x65), p), 'ipv4-bad-version'],
    ['version 0', (p) => ((p[0] = 0x05), p), 'ipv4-bad-version'],
    ['IHL 4', (p) => ((p[0] = 0x44), p), 'ipv4-bad-ihl'],
    ['IHL 0', (p) => ((p[0] = 0x40), p), 'ipv4-bad-ihl'],
    ['IHL longer than the bytes', (p) => ((p[0] = 0x4f), p.subarray(0, 40)), 'ipv4-truncated'],
    ['total length below the header', (p) => ((p[2] = 0), (p[3] = 19), p), 'ipv4-bad-total-length'],
    ['total length beyond the bytes', (p) => ((p[3] = p[3]! + 1), p), 'ipv4-truncated'],
    ['cut inside the payload', (p) => p.subarray(0, p.length - 1), 'ipv4-truncated'],
  ];
  for (const [name, mutate, reason] of cases) {
    it(`refuses ${name} as ${reason}`, () => assert.deepEqual(parseIpv4Header(mutate(good())), { ok: false, reason }));
  }

  it('never throws on any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
        const r = parseIpv4Header(b);
        if (!r.ok) assert.match(r.reason, /^ipv4-/);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('address helpers', () => {
  it('ipv4FromString inverts ipv4ToString', () => {
    fc.assert(fc.property(u32Arb, (a) => assert.equal(ipv4FromString(ipv4ToString(a)), a)));
  });
  it('refuses what is not a dotted quad', () => {
    for (const s of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1.2.3.x', ' 1.2.3.4', '1.2.3.4 ', '1..3.4']) assert.equal(ipv4FromString(s), undefined, s);
  });
  it('internetChecksum: RFC 1071 example sums to 0xddf2, odd length pads with zero', () => {
    const ex = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    assert.equal(internetChecksum(ex), ~0xddf2 & 0xffff);
    assert.equal(internetChecksum(new Uint8Array([0x12, 0x34, 0x56])), internetChecksum(new Uint8Array([0x12, 0x34, 0x56, 0x00])));
  });
});
