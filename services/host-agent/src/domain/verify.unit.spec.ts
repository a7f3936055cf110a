import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { mintToken } from '@vnet/tokens';
import { TokenVerifier, type PacketToken } from './verify';

const HERE = '127.0.1.2:6081';
const NOW = 1_900_000_000;
const keyA1 = randomBytes(32);
const keyA2 = randomBytes(32);
const keys: Record<string, Record<number, Uint8Array>> = { a: { 1: keyA1, 2: keyA2 } };
const verifier = () => new TokenVerifier(HERE, (vm, id) => keys[vm]?.[id], () => NOW);
const local = { kind: 'local', vmId: 'a' } as const;

/** A packet with a token minted by `key` for the given fields (defaults: a valid one). */
function packet(o: Partial<{ vni: number; src: number; dst: number; keyId: number; expiry: number; underlay: string; key: Uint8Array }> = {}): PacketToken {
  const f = { vni: 7, src: 0x0a000001, dst: 0x0a000002, keyId: 1, expiry: NOW + 60, underlay: HERE, key: keyA1, ...o };
  const token = mintToken(f.key, { vni: f.vni, src: f.src, dst: f.dst, dstUnderlay: f.underlay, keyId: f.keyId, expiry: f.expiry });
  return { vni: f.vni, src: f.src, dst: f.dst, keyId: f.keyId, expiry: f.expiry, token };
}

describe('token verification at the destination', () => {
  it('accepts a valid token, with either key id the VM has', () => {
    const v = verifier();
    assert.equal(v.check(local, packet()), undefined);
    assert.equal(v.check(local, packet({ keyId: 2, key: keyA2 })), undefined);
  });

  it('refuses each kind of bad token, and none of them is remembered', () => {
    const v = verifier();
    const cases: Array<[string, ReturnType<TokenVerifier['check']>, ReturnType<TokenVerifier['check']>]> = [
      ['no token', v.check(local, { ...packet(), token: undefined, keyId: undefined }), 'missing'],
      ['expired', v.check(local, packet({ expiry: NOW - 1 })), 'expired'],
      ['unknown key id', v.check(local, packet({ keyId: 9 })), 'unknown-key'],
      ['made with another key', v.check(local, packet({ key: randomBytes(32) })), 'forged'],
      ['made for another host', v.check(local, packet({ underlay: '127.0.1.3:6081' })), 'forged'],
      ['destination elsewhere', v.check({ kind: 'elsewhere' }, packet()), 'wrong-host'],
      ['destination in another VNI', v.check({ kind: 'local-other-vni' }, packet()), 'wrong-vni'],
    ];
    for (const [what, got, want] of cases) assert.equal(got, want, what);
    assert.equal(v.size(), 0);
  });

  it('a token that checked is remembered; any change to it or its fields is checked again and refused', () => {
    fc.assert(
      fc.property(fc.nat({ max: 15 }), fc.integer({ min: 1, max: 255 }), fc.constantFrom('src', 'dst', 'vni', 'keyId', 'expiry'), (byte, flip, field) => {
        const v = verifier();
        const good = packet();
        assert.equal(v.check(local, good), undefined);
        assert.equal(v.size(), 1);
        assert.equal(v.check(local, good), undefined, 'from the cache');
        const tampered = Uint8Array.from(good.token!);
        tampered[byte] = tampered[byte]! ^ flip;
        assert.equal(v.check(local, { ...good, token: tampered }), 'forged');
        const moved = { ...good, [field]: (good[field as keyof PacketToken] as number) + 1 };
        assert.notEqual(v.check(local, moved), undefined, `changed ${field}`);
      }),
      { numRuns: 100 },
    );
  });

  it('stays bounded under a flood of distinct pairs', () => {
    const v = new TokenVerifier(HERE, (vm, id) => keys[vm]?.[id], () => NOW, 100);
    for (let i = 0; i < 1000; i++) assert.equal(v.check(local, packet({ src: 0x0a000100 + i })), undefined);
    assert.ok(v.size() <= 100);
  });

  it('checkFrame (token read in place from the frame) decides as check does, cached or not', () => {
    /** The 24 data bytes of the token option at offset 5 of a larger buffer. */
    const frame = (p: PacketToken) => {
      const b = Buffer.alloc(40, 0xee);
      b.writeUInt32BE(p.keyId!, 5);
      b.writeUInt32BE(p.expiry, 9);
      Buffer.from(p.token!).copy(b, 13);
      return b;
    };
    fc.assert(
      fc.property(
        fc.constantFrom<Partial<Parameters<typeof packet>[0]>>({}, { keyId: 2, key: keyA2 }, { expiry: NOW - 1 }, { keyId: 9 }, { key: keyA2 }, { underlay: '127.0.1.9:1' }, { vni: 8 }),
        fc.boolean(),
        fc.nat(15),
        (o, warm, flip) => {
          const p = packet(o);
          const a = verifier();
          const b = verifier();
          if (warm) {
            a.check(local, packet());
            b.check(local, packet());
          }
          const bytes = frame(p);
          assert.equal(b.checkFrame('a', p.vni, p.src, p.dst, bytes, 5), a.check(local, p));
          // One bit changed in the token: refused by both, even after the valid one was cached.
          const bad = Buffer.from(p.token!);
          bad[flip]! ^= 1;
          const badBytes = frame({ ...p, token: bad });
          assert.equal(b.checkFrame('a', p.vni, p.src, p.dst, badBytes, 5), a.check(local, { ...p, token: bad }));
          assert.notEqual(b.checkFrame('a', p.vni, p.src, p.dst, badBytes, 5), undefined);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses the tokens of a revoked pair up to its void time, remembered ones included, and accepts a later one', () => {
    const v = verifier();
    const old = packet({ expiry: NOW + 60 });
    assert.equal(v.check(local, old), undefined);
    assert.equal(v.size(), 1);
    v.void(old.vni, old.src, old.dst, NOW + 60);
    assert.equal(v.size(), 0, 'the remembered token is forgotten');
    assert.equal(v.check(local, old), 'revoked');
    assert.equal(v.check(local, packet({ expiry: NOW + 30 })), 'revoked', 'an earlier one too');
    assert.equal(v.check(local, packet({ expiry: NOW + 61 })), undefined, 'made after a new authorisation: later expiry');
    assert.equal(v.check(local, packet({ src: 0x0a000009, expiry: NOW + 60 })), undefined, 'another pair is not affected');
  });
});
