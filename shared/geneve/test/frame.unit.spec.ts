/** vnet's token option and frame: known answer, round trip, receive rules, robustness. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeGeneve,
  decodeTokenOption,
  decodeVnetFrame,
  encodeGeneve,
  encodeTokenOption,
  encodeVnetFrame,
  encodeVnetHeader,
  findTokenOption,
  ipv4ToString,
  newReasonCounters,
  DECODE_REASONS,
  GENEVE_VNI_MAX,
  VNET_HEADER_LENGTH,
  VNET_OPTION_CLASS,
  VNET_TOKEN_OPTION_TYPE,
  type TokenOption,
} from '../src/index';
import { bytes, innerPacketArb, optionsArb, tokenArb } from './packets';

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((h) => parseInt(h, 16)));

/** One frame written out by hand from RFC 8926 and the README's layout: pins the wire. */
const KNOWN_FRAME = hex(`
  07 40 08 00  00 03 e9 00
  ff f6 81 06  01 02 03 04  6a 00 00 00
  a0 a1 a2 a3  a4 a5 a6 a7  a8 a9 aa ab  ac ad ae af
  45 00 00 1c  00 01 00 00  40 01 66 c9  0a 01 00 0a  0a 01 00 0c
  08 00 f7 fd  00 01 00 01`);
const KNOWN_TOKEN: TokenOption = { keyId: 0x01020304, expiresAt: 0x6a000000, token: hex('a0a1a2a3a4a5a6a7a8a9aaabacadaeaf') };
const KNOWN_INNER = KNOWN_FRAME.subarray(36);

describe('known-answer frame', () => {
  it('encodes to the hand-built bytes', () => {
    assert.deepEqual(bytes(encodeVnetFrame(1001, KNOWN_TOKEN, KNOWN_INNER)), bytes(KNOWN_FRAME));
    const generic = encodeGeneve({ vni: 1001, options: [encodeTokenOption(KNOWN_TOKEN)] }, KNOWN_INNER);
    assert.deepEqual(bytes(generic), bytes(KNOWN_FRAME));
  });

  it('decodes the hand-built bytes', () => {
    const r = decodeVnetFrame(KNOWN_FRAME);
    assert.ok(r.ok);
    const f = r.value;
    assert.equal(f.vni, 1001);
    assert.deepEqual({ ...f.token, token: bytes(f.token.token) }, { ...KNOWN_TOKEN, token: bytes(KNOWN_TOKEN.token) });
    assert.equal(f.geneve.critical, true);
    assert.deepEqual([ipv4ToString(f.inner.src), ipv4ToString(f.inner.dst), f.inner.protocol, f.inner.totalLength], ['10.1.0.10', '10.1.0.12', 1, 28]);
    assert.deepEqual(bytes(f.inner.payload), bytes(KNOWN_FRAME.subarray(56)));
  });
});

describe('token option', () => {
  it('round trips through encodeTokenOption / decodeTokenOption', () => {
    fc.assert(
      fc.property(tokenArb, (t) => {
        const o = encodeTokenOption(t);
        assert.deepEqual([o.optionClass, o.type, o.data.length], [VNET_OPTION_CLASS, VNET_TOKEN_OPTION_TYPE, 24]);
        const r = decodeTokenOption(o);
        assert.ok(r.ok);
        assert.deepEqual({ ...r.value, token: bytes(r.value.token) }, { ...t, token: bytes(t.token) });
      }),
    );
  });

  it('refuses a wrong class, type or length; reports a missing one', () => {
    const o = encodeTokenOption(KNOWN_TOKEN);
    assert.deepEqual(decodeTokenOption({ ...o, optionClass: 0xfff7 }), { ok: false, reason: 'bad-token-option' });
    assert.deepEqual(decodeTokenOption({ ...o, type: 0x01 }), { ok: false, reason: 'bad-token-option' });
    assert.deepEqual(decodeTokenOption({ ...o, data: o.data.subarray(0, 20) }), { ok: false, reason: 'bad-token-option' });
    assert.deepEqual(findTokenOption([]), { ok: false, reason: 'missing-token-option' });
  });

  it('throws on bugs: token not 16 bytes, key id or expiry not a u32', () => {
    assert.throws(() => encodeTokenOption({ ...KNOWN_TOKEN, token: new Uint8Array(32) }), RangeError);
    assert.throws(() => encodeTokenOption({ ...KNOWN_TOKEN, keyId: 2 ** 32 }), RangeError);
    assert.throws(() => encodeTokenOption({ ...KNOWN_TOKEN, expiresAt: Date.now() }), RangeError);
  });
});

describe('vnet frame', () => {
  const vniArb = fc.integer({ min: 0, max: GENEVE_VNI_MAX });

  it('round trips VNI, token and inner packet, into a reused buffer too', () => {
    const out = new Uint8Array(2048);
    fc.assert(
      fc.property(vniArb, tokenArb, innerPacketArb, (vni, token, inner) => {
        for (const frame of [encodeVnetFrame(vni, token, inner), encodeVnetFrame(vni, token, inner, out)]) {
          const r = decodeVnetFrame(frame);
          assert.ok(r.ok);
          assert.equal(r.value.vni, vni);
          assert.deepEqual({ ...r.value.token, token: bytes(r.value.token.token) }, { ...token, token: bytes(token.token) });
          assert.deepEqual(bytes(r.value.geneve.payload), bytes(inner));
          assert.equal(r.value.inner.totalLength, inner.length);
        }
      }),
    );
  });

  it('keeps non-critical unknown options and still finds the token', () => {
    fc.assert(
      fc.property(vniArb, tokenArb, optionsArb, innerPacketArb, (vni, token, others, inner) => {
        const nonCritical = others.map((o) => ({ ...o, type: o.type & 0x7f })).slice(0, 2);
        const options = [...nonCritical, encodeTokenOption(token)];
        fc.pre(options.reduce((n, o) => n + 4 + o.data.length, 0) <= 252);
        const r = decodeVnetFrame(encodeGeneve({ vni, options }, inner));
        assert.ok(r.ok);
        assert.equal(r.value.token.keyId, token.keyId);
      }),
    );
  });

  it('encodeVnetHeader writes the 36 header bytes at an offset', () => {
    const out = new Uint8Array(64).fill(0xee);
    assert.equal(encodeVnetHeader(1001, KNOWN_TOKEN, out, 10), VNET_HEADER_LENGTH);
    assert.deepEqual(bytes(out.subarray(10, 46)), bytes(KNOWN_FRAME.subarray(0, 36)));
    assert.deepEqual([out[9], out[46]], [0xee, 0xee]);
  });

  const mutations: Array<[string, (f: Uint8Array) => void, string]> = [
    ['version 1', (f) => (f[0] = 0x47), 'bad-version'],
    ['O bit', (f) => (f[1] = 0xc0), 'oam-frame'],
    ['protocol type IPv6', (f) => ((f[2] = 0x86), (f[3] = 0xdd)), 'unsupported-protocol'],
    ['option class changed (unknown critical option)', (f) => (f[9] = 0xf7), 'unknown-critical-option'],
    ['critical bit cleared (token no longer recognised)', (f) => (f[10] = 0x01), 'missing-token-option'],
    ['Opt Len one word short', (f) => (f[0] = 0x06), 'bad-option-length'],
    ['Opt Len beyond the frame', (f) => (f[0] = 0x3f), 'truncated'],
    ['inner version 6', (f) => (f[36] = 0x65), 'ipv4-bad-version'],
    ['inner IHL 3', (f) => (f[36] = 0x43), 'ipv4-bad-ihl'],
    ['inner total length 10', (f) => (f[39] = 10), 'ipv4-bad-total-length'],
    ['inner total length too long', (f) => (f[39] = 0x1d), 'ipv4-truncated'],
  ];
  for (const [name, mutate, reason] of mutations) {
    it(`refuses the known frame with ${name} as ${reason}`, () => {
      const f = KNOWN_FRAME.slice();
      mutate(f);
      assert.deepEqual(decodeVnetFrame(f), { ok: false, reason });
    });
  }

  it('refuses every truncation of a valid frame', () => {
    fc.assert(
      fc.property(vniArb, tokenArb, innerPacketArb, (vni, token, inner) => {
        const frame = encodeVnetFrame(vni, token, inner);
        for (let n = 0; n < frame.length; n++) {
          const r = decodeVnetFrame(frame.subarray(0, n));
          assert.equal(r.ok, false);
          assert.equal(r.reason, n < VNET_HEADER_LENGTH ? 'truncated' : 'ipv4-truncated');
        }
      }),
      { numRuns: 50 },
    );
  });

  it('never throws on random bytes or on mutated valid frames, and counts every refusal', () => {
    const counters = newReasonCounters();
    const reasons = new Set<string>(DECODE_REASONS);
    const check = (b: Uint8Array) => {
      const r = decodeVnetFrame(b);
      if (!r.ok) {
        assert.ok(reasons.has(r.reason), r.reason);
        counters[r.reason]++;
      }
      decodeGeneve(b);
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), check), { numRuns: 2000 });
    const mutated = fc
      .tuple(vniArb, tokenArb, innerPacketArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
      .map(([vni, token, inner, edits]) => {
        const f = encodeVnetFrame(vni, token, inner);
        for (const [at, v] of edits) f[at % f.length] = v;
        return f;
      });
    fc.assert(fc.property(mutated, check), { numRuns: 3000 });
    assert.ok(Object.values(counters).reduce((a, b) => a + b) > 0);
  });
});
