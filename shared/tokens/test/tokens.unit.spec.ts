import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createCipheriv, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync } from 'node:crypto';
import { generateHostKeyPair, mintToken, openSealed, openSealedKey, parseKeyPair, publicKeyOf, seal, sealKey, TOKEN_LENGTH, tokenMatches, UnsealError, type TokenFields } from '../src/index';

const fieldsArb: fc.Arbitrary<TokenFields> = fc
  .record({
    vni: fc.integer({ min: 0, max: 0xffffff }),
    src: fc.nat({ max: 0xffffffff }),
    dst: fc.nat({ max: 0xffffffff }),
    dstUnderlay: fc.constantFrom('127.0.1.2:6081', '127.0.1.3:6081', 'h9.dc1.example:6081'),
    keyId: fc.nat({ max: 0xffffffff }),
    expiry: fc.nat({ max: 0xffffffff }),
  })
  .map((f) => ({ ...f }));

describe('sealed VM keys', () => {
  const host = generateHostKeyPair();
  const other = generateHostKeyPair();

  it('open with the host private key and the same context, to the same bytes', () => {
    for (let i = 0; i < 20; i++) {
      const secret = randomBytes(32);
      const sealed = sealKey(secret, host.publicKey, `vm-${i}/h1/k1`);
      assert.deepEqual(openSealedKey(sealed, host.privateKey, `vm-${i}/h1/k1`), secret);
      assert.ok(!Buffer.from(sealed.box, 'base64').includes(secret), 'the box does not hold the key in clear');
    }
  });

  it('do not open for another host, another context, or after any change', () => {
    const secret = randomBytes(32);
    const sealed = sealKey(secret, host.publicKey, 'vm-1/h1/k1');
    assert.throws(() => openSealedKey(sealed, other.privateKey, 'vm-1/h1/k1'), UnsealError);
    assert.throws(() => openSealedKey(sealed, host.privateKey, 'vm-2/h1/k1'), UnsealError);
    const box = Buffer.from(sealed.box, 'base64');
    box[3] = box[3]! ^ 1;
    assert.throws(() => openSealedKey({ ...sealed, box: box.toString('base64') }, host.privateKey, 'vm-1/h1/k1'), UnsealError);
    assert.throws(() => openSealedKey({ ...sealed, nonce: randomBytes(12).toString('base64') }, host.privateKey, 'vm-1/h1/k1'), UnsealError);
    assert.throws(() => openSealedKey({ ...sealed, box: 'AAAA' }, host.privateKey, 'vm-1/h1/k1'), /wrong shape/);
    // A low-order ephemeral key makes the key agreement fail: still an UnsealError.
    assert.throws(() => openSealedKey({ ...sealed, epk: Buffer.alloc(32).toString('base64') }, host.privateKey, 'vm-1/h1/k1'), UnsealError);
  });

  it('seal secrets of other lengths (tokens) the same way', () => {
    const token = randomBytes(16);
    const sealed = seal(token, host.publicKey, 'pair/p1');
    assert.deepEqual(openSealed(sealed, host.privateKey, 'pair/p1', 16), token);
    assert.throws(() => openSealed(sealed, host.privateKey, 'pair/p1', 32), /wrong shape/);
    assert.throws(() => seal(new Uint8Array(0), host.publicKey, 'x'), /1\.\.128 bytes/);
  });

  it('seal each time with a fresh ephemeral key and nonce', () => {
    const secret = randomBytes(32);
    const a = sealKey(secret, host.publicKey, 'c');
    const b = sealKey(secret, host.publicKey, 'c');
    assert.notEqual(a.epk, b.epk);
    assert.notEqual(a.box, b.box);
  });

  it('sealed with a static sender key (tokens): same box shape, opens the same way, and keeps refusing after the key is cached', () => {
    const issuer = generateHostKeyPair();
    const third = generateHostKeyPair();
    for (let i = 0; i < 5; i++) {
      const token = randomBytes(16);
      const sealed = seal(token, host.publicKey, `pair/p${i}`, issuer);
      assert.equal(sealed.epk, issuer.publicKey, 'the epk names the sender');
      assert.deepEqual(openSealed(sealed, host.privateKey, `pair/p${i}`, 16), token);
      // Cached or not, every other way still fails.
      assert.throws(() => openSealed(sealed, other.privateKey, `pair/p${i}`, 16), UnsealError);
      assert.throws(() => openSealed(sealed, host.privateKey, `pair/q${i}`, 16), UnsealError);
      const box = Buffer.from(sealed.box, 'base64');
      box[i] = box[i]! ^ 0x80;
      assert.throws(() => openSealed({ ...sealed, box: box.toString('base64') }, host.privateKey, `pair/p${i}`, 16), UnsealError);
      // Someone else claiming to be the sender (its public key as epk, its own shared secret) is refused.
      const forged = seal(token, host.publicKey, `pair/p${i}`, third);
      assert.throws(() => openSealed({ ...forged, epk: issuer.publicKey }, host.privateKey, `pair/p${i}`, 16), UnsealError);
    }
    const a = seal(Buffer.alloc(16, 1), host.publicKey, 'c', issuer);
    const b = seal(Buffer.alloc(16, 1), host.publicKey, 'c', issuer);
    assert.notEqual(a.nonce, b.nonce, 'a fresh nonce per box');
    assert.notEqual(a.box, b.box);
  });

  it('opens boxes from a static sender made elsewhere (a reference sealing here), also once the opener has cached their key', () => {
    // The sealing written out with node:crypto alone, as another process would do it: the
    // opener's cache is filled by opening, never by this process sealing.
    const sender = generateKeyPairSync('x25519');
    const spki = sender.publicKey.export({ format: 'der', type: 'spki' });
    const epk = spki.subarray(spki.length - 32);
    const hostPk = Buffer.from(host.publicKey, 'base64');
    const hostKey = createPublicKey({ key: Buffer.concat([spki.subarray(0, spki.length - 32), hostPk]), format: 'der', type: 'spki' });
    const aead = Buffer.from(hkdfSync('sha256', diffieHellman({ privateKey: sender.privateKey, publicKey: hostKey }), Buffer.concat([epk, hostPk]), Buffer.from('vnet sealed vm key v1'), 32));
    const box = (secret: Buffer, context: string) => {
      const nonce = randomBytes(12);
      const c = createCipheriv('chacha20-poly1305', aead, nonce, { authTagLength: 16 });
      c.setAAD(Buffer.from(context), { plaintextLength: secret.length });
      return { epk: epk.toString('base64'), nonce: nonce.toString('base64'), box: Buffer.concat([c.update(secret), c.final(), c.getAuthTag()]).toString('base64') };
    };
    for (let i = 0; i < 4; i++) {
      const secret = randomBytes(16);
      const sealed = box(secret, `pair/r${i}`);
      assert.deepEqual(openSealed(sealed, host.privateKey, `pair/r${i}`, 16), secret, `box ${i}`);
      const bad = Buffer.from(sealed.box, 'base64');
      bad[0] = bad[0]! ^ 1;
      assert.throws(() => openSealed({ ...sealed, box: bad.toString('base64') }, host.privateKey, `pair/r${i}`, 16), UnsealError);
      assert.throws(() => openSealed(sealed, other.privateKey, `pair/r${i}`, 16), UnsealError);
    }
  });

  it('host public keys derive from the private ones and have the catalogue shape', () => {
    assert.equal(publicKeyOf(host.privateKey), host.publicKey);
    assert.match(host.publicKey, /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/);
  });
});

describe('pair tokens', () => {
  it('match for the fields and key they were made with, and for nothing else', () => {
    fc.assert(
      fc.property(fieldsArb, fc.constantFrom('vni', 'src', 'dst', 'dstUnderlay', 'keyId', 'expiry'), (f, change) => {
        const key = randomBytes(32);
        const token = mintToken(key, f);
        assert.equal(token.length, TOKEN_LENGTH);
        assert.ok(tokenMatches(key, f, token));
        assert.ok(!tokenMatches(randomBytes(32), f, token), 'another key');
        const changed = { ...f, [change]: change === 'dstUnderlay' ? `${f.dstUnderlay}0` : change === 'vni' ? (f.vni + 1) % 0x1000000 : (f[change] as number) === 0 ? 1 : (f[change] as number) - 1 };
        assert.ok(!tokenMatches(key, changed, token), `changed ${change}`);
        const flipped = Buffer.from(token);
        flipped[0] = flipped[0]! ^ 0x80;
        assert.ok(!tokenMatches(key, f, flipped), 'a flipped bit');
        assert.ok(!tokenMatches(key, f, token.subarray(0, 15)), 'a short token');
      }),
      { numRuns: 200 },
    );
  });

  it('refuse fields out of range, saying which', () => {
    const f: TokenFields = { vni: 1, src: 1, dst: 2, dstUnderlay: '127.0.1.2:6081', keyId: 1, expiry: 2 ** 32 };
    assert.throws(() => mintToken(randomBytes(32), f), /expiry must be a u32/);
  });
});

describe('key-pair files', () => {
  it('read raw base64 and PKCS#8 PEM private keys, and check the public key', () => {
    const k = generateHostKeyPair();
    assert.deepEqual(parseKeyPair(JSON.stringify(k)), k);
    const { publicKey, privateKey } = generateKeyPairSync('x25519');
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64');
    assert.equal(parseKeyPair(JSON.stringify({ publicKey: raw, privateKey: pem })).publicKey, raw);
    assert.throws(() => parseKeyPair(JSON.stringify({ ...k, publicKey: generateHostKeyPair().publicKey }), 'h1.json'), /h1\.json: publicKey does not belong/);
    assert.throws(() => parseKeyPair('{', 'h1.json'), /h1\.json: not JSON/);
    assert.throws(() => parseKeyPair('{}', 'h1.json'), /no "privateKey"/);
    const ed = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    assert.throws(() => parseKeyPair(JSON.stringify({ privateKey: ed }), 'h1.json'), /not an X25519 key/);
  });
});
