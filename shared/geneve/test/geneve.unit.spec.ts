/** The generic Geneve codec: round trip, refusals, and the encoder's bug checks. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeGeneve,
  encodeGeneve,
  encodeGeneveHeader,
  geneveHeaderLength,
  DECODE_REASONS,
  GENEVE_VNI_MAX,
  PROTOCOL_TYPE_IPV4,
  type GeneveOption,
} from '../src/index';
import { bytes, optionArb, optionsArb } from './packets';

const plain = (os: readonly GeneveOption[]) => os.map((o) => ({ ...o, data: bytes(o.data) }));
const vniArb = fc.integer({ min: 0, max: GENEVE_VNI_MAX });

describe('Geneve encode → decode', () => {
  it('gives back VNI, flags, protocol type, options and payload', () => {
    fc.assert(
      fc.property(vniArb, fc.integer({ min: 0, max: 0xffff }), fc.boolean(), optionsArb, fc.uint8Array({ maxLength: 600 }), (vni, protocolType, oam, options, payload) => {
        const frame = encodeGeneve({ vni, protocolType, oam, options }, payload);
        const r = decodeGeneve(frame);
        assert.ok(r.ok);
        const f = r.value;
        assert.equal(f.version, 0);
        assert.equal(f.vni, vni);
        assert.equal(f.protocolType, protocolType);
        assert.equal(f.oam, oam);
        assert.equal(f.critical, options.some((o) => (o.type & 0x80) !== 0));
        assert.deepEqual(plain(f.options), plain(options));
        assert.equal(f.headerLength, geneveHeaderLength(options));
        assert.deepEqual(bytes(f.payload), bytes(payload));
      }),
    );
  });

  it('decodes views on the input, not copies', () => {
    const frame = encodeGeneve({ vni: 7, options: [{ optionClass: 1, type: 2, data: new Uint8Array(4) }] }, new Uint8Array([1, 2, 3]));
    const r = decodeGeneve(frame);
    assert.ok(r.ok);
    assert.equal(r.value.payload.buffer, frame.buffer);
    assert.equal(r.value.options[0]!.data.buffer, frame.buffer);
    frame[frame.length - 1] = 9;
    assert.equal(r.value.payload[2], 9);
  });

  it('encodes into a caller buffer and returns a view on it', () => {
    const out = new Uint8Array(2048);
    const f = encodeGeneve({ vni: 1001 }, new Uint8Array([0xaa, 0xbb]), out);
    assert.equal(f.buffer, out.buffer);
    assert.deepEqual(bytes(f), [0x00, 0x00, 0x08, 0x00, 0x00, 0x03, 0xe9, 0x00, 0xaa, 0xbb]);
    assert.equal(encodeGeneveHeader({ vni: 1, options: [] }, out, 100), 8);
  });

  it('defaults to protocol type IPv4, no O bit, no options', () => {
    const r = decodeGeneve(encodeGeneve({ vni: 1 }, new Uint8Array(0)));
    assert.ok(r.ok);
    assert.deepEqual([r.value.protocolType, r.value.oam, r.value.critical, r.value.options.length], [PROTOCOL_TYPE_IPV4, false, false, 0]);
  });
});

describe('Geneve decode refuses, never throws', () => {
  const reasons = new Set<string>(DECODE_REASONS);

  it('returns ok or a known reason for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        const r = decodeGeneve(b);
        if (!r.ok) assert.ok(reasons.has(r.reason));
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses every truncation inside the header as truncated', () => {
    fc.assert(
      fc.property(vniArb, optionsArb, (vni, options) => {
        const frame = encodeGeneve({ vni, options }, new Uint8Array(0));
        for (let n = 0; n < frame.length; n++) assert.deepEqual(decodeGeneve(frame.subarray(0, n)), { ok: false, reason: 'truncated' });
      }),
    );
  });

  it('refuses versions 1..3', () => {
    const frame = encodeGeneve({ vni: 1 }, new Uint8Array(4));
    for (const v of [1, 2, 3]) {
      frame[0] = (v << 6) | (frame[0]! & 0x3f);
      assert.deepEqual(decodeGeneve(frame), { ok: false, reason: 'bad-version' });
    }
  });

  it('refuses an option that runs past the options area', () => {
    fc.assert(
      fc.property(optionArb.filter((o) => o.data.length > 0), (o) => {
        const frame = encodeGeneve({ vni: 1, options: [o] }, new Uint8Array(200));
        frame[0] = frame[0]! - 1; // one word less of options than the option needs
        assert.deepEqual(decodeGeneve(frame), { ok: false, reason: 'bad-option-length' });
      }),
    );
  });

  it('ignores reserved bits on receipt (RFC 8926)', () => {
    const frame = encodeGeneve({ vni: 5, options: [{ optionClass: 3, type: 4, data: new Uint8Array(4) }] }, new Uint8Array(0));
    frame[1] = frame[1]! | 0x3f;
    frame[7] = 0xff;
    frame[11] = frame[11]! | 0xe0;
    const r = decodeGeneve(frame);
    assert.ok(r.ok);
    assert.equal(r.value.vni, 5);
    assert.equal(r.value.options[0]!.data.length, 4);
  });
});

describe('Geneve encode throws on bugs', () => {
  const bad: Array<[string, () => unknown]> = [
    ['VNI above 24 bits', () => encodeGeneve({ vni: GENEVE_VNI_MAX + 1 }, new Uint8Array(0))],
    ['negative VNI', () => encodeGeneve({ vni: -1 }, new Uint8Array(0))],
    ['option data not whole words', () => encodeGeneve({ vni: 1, options: [{ optionClass: 1, type: 1, data: new Uint8Array(3) }] }, new Uint8Array(0))],
    ['option data above 124 bytes', () => encodeGeneve({ vni: 1, options: [{ optionClass: 1, type: 1, data: new Uint8Array(128) }] }, new Uint8Array(0))],
    ['options above 252 bytes', () => encodeGeneve({ vni: 1, options: [0, 1].map(() => ({ optionClass: 1, type: 1, data: new Uint8Array(124) })) }, new Uint8Array(0))],
    ['option class above 16 bits', () => encodeGeneve({ vni: 1, options: [{ optionClass: 0x10000, type: 1, data: new Uint8Array(0) }] }, new Uint8Array(0))],
    ['buffer too small', () => encodeGeneve({ vni: 1 }, new Uint8Array(10), new Uint8Array(17))],
  ];
  for (const [name, f] of bad) it(name, () => assert.throws(f, RangeError));
});
