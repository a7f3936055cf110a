/**
 * Per-VM secret keys travel through the log sealed to the X25519 public key of the host
 * that runs the VM, so the log never holds a key in plaintext and only that host can open it.
 *
 * Sealing is ECIES-style with `node:crypto` only: a fresh ephemeral X25519 key pair per
 * sealed key; the shared secret of (ephemeral private, host public) goes through HKDF-SHA256
 * (salt: both public keys; info: a fixed label) to a ChaCha20-Poly1305 key; the additional
 * data binds the sealed key to what it is for (VM, host, key id), so a sealed key copied into
 * another event does not open.
 *
 * A sender that seals often to the same hosts (the token issuer: a token per pair) may seal
 * with its own static key pair instead of an ephemeral one (`from`): the box is the same shape
 * (its `epk` is then the sender's public key, which also tells the host who sealed it), the
 * opener is the same, and both sides cache the AEAD key of the (sender, host) pair, so sealing
 * and opening cost one ChaCha20-Poly1305 each instead of an X25519 key generation and
 * agreement. Nonces are random (96 bits) per box; the context is still bound as additional
 * data. The caches are bounded.
 */
import { createPrivateKey, createPublicKey, createCipheriv, createDecipheriv, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';

/** Length of a per-VM secret key and of X25519 keys, in bytes. */
export const KEY_LENGTH = 32;
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;
const HKDF_INFO = Buffer.from('vnet sealed vm key v1');

/** A host's X25519 key pair: the public half is in `HostRegistered`, the private half never leaves the host. */
export interface HostKeyPair {
  /** Raw 32-byte public key, base64 (the catalogue's `PublicKey`). */
  readonly publicKey: string;
  /** Raw 32-byte private key, base64. */
  readonly privateKey: string;
}

/** A secret key sealed to a host. All fields base64. */
export interface SealedKey {
  /** The ephemeral public key of this sealing. */
  readonly epk: string;
  readonly nonce: string;
  /** Ciphertext followed by the 16-byte Poly1305 tag. */
  readonly box: string;
}

/** Why a sealed key did not open. */
export class UnsealError extends Error {
  override readonly name = 'UnsealError';
}

// DER prefixes of X25519 keys (RFC 8410): SPKI for a public key, PKCS#8 for a private one;
// the raw 32 bytes follow.
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

function publicKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== KEY_LENGTH) throw new RangeError(`an X25519 public key is ${KEY_LENGTH} bytes, got ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

function privateKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== KEY_LENGTH) throw new RangeError(`an X25519 private key is ${KEY_LENGTH} bytes, got ${raw.length}`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
}

const rawPublic = (k: KeyObject): Buffer => k.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
const rawPrivate = (k: KeyObject): Buffer => k.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length);

/** A new host key pair. */
export function generateHostKeyPair(): HostKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return { publicKey: rawPublic(publicKey).toString('base64'), privateKey: rawPrivate(privateKey).toString('base64') };
}

/** The public key that belongs to a private key (both raw base64). */
export function publicKeyOf(privateKey: string): string {
  return rawPublic(createPublicKey(privateKeyObject(Buffer.from(privateKey, 'base64')))).toString('base64');
}

function aeadKey(shared: Buffer, epk: Uint8Array, hostPk: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([epk, hostPk]), HKDF_INFO, 32));
}

/** A small bounded cache (cleared when full: the working set is a few host pairs). */
class Bounded<V> {
  private readonly m = new Map<string, V>();
  constructor(private readonly max: number) {}
  peek(k: string): V | undefined {
    return this.m.get(k);
  }
  get(k: string, make: () => V): V {
    let v = this.m.get(k);
    if (v === undefined) {
      if (this.m.size >= this.max) this.m.clear();
      v = make();
      this.m.set(k, v);
    }
    return v;
  }
}
/** Sender public keys seen in boxes that opened (an ephemeral one is seen once; a static sender's again and again). */
const epkSeen = new (class {
  private readonly seen = new Set<string>();
  /** True when `epk` was seen before. */
  note(epk: string): boolean {
    if (this.seen.has(epk)) return true;
    if (this.seen.size >= 4096) this.seen.clear();
    this.seen.add(epk);
    return false;
  }
})();
/** AEAD keys of static (sender, host) pairs, by both keys; private key objects by their raw form. */
const staticKeys = new Bounded<Buffer>(4096);
const privateKeys = new Bounded<{ key: KeyObject; publicRaw: Buffer }>(64);
const privateOf = (raw: string) =>
  privateKeys.get(raw, () => {
    const key = privateKeyObject(Buffer.from(raw, 'base64'));
    return { key, publicRaw: rawPublic(createPublicKey(key)) };
  });

/**
 * Seals `secret` (any short byte string: a VM key, a token) to the host whose public key is
 * `hostPublicKey` (raw, base64). `context` names what it is for (e.g. `vm-1/h2/k3`) and must
 * be given again to open it.
 */
export function seal(secret: Uint8Array, hostPublicKey: string, context: string, from?: HostKeyPair): SealedKey {
  if (secret.length === 0 || secret.length > 128) throw new RangeError(`sealed secrets are 1..128 bytes, got ${secret.length}`);
  let epk: Buffer;
  let key: Buffer;
  if (from) {
    // Static-static: the sender's key pair (its public half derived from the private one, so
    // a mismatched pair cannot put a wrong key in the cache), the AEAD key cached per (sender, host).
    const sender = privateOf(from.privateKey);
    epk = sender.publicRaw;
    key = staticKeys.get(`${epk.toString('base64')}>${hostPublicKey}`, () => {
      const hostPk = Buffer.from(hostPublicKey, 'base64');
      return aeadKey(diffieHellman({ privateKey: sender.key, publicKey: publicKeyObject(hostPk) }), epk, hostPk);
    });
  } else {
    const hostPk = Buffer.from(hostPublicKey, 'base64');
    const eph = generateKeyPairSync('x25519');
    epk = rawPublic(eph.publicKey);
    key = aeadKey(diffieHellman({ privateKey: eph.privateKey, publicKey: publicKeyObject(hostPk) }), epk, hostPk);
  }
  const nonce = randomBytes(NONCE_LENGTH);
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_LENGTH });
  c.setAAD(Buffer.from(context, 'utf8'), { plaintextLength: secret.length });
  const box = Buffer.concat([c.update(secret), c.final(), c.getAuthTag()]);
  if (!from) key.fill(0);
  return { epk: epk.toString('base64'), nonce: nonce.toString('base64'), box: box.toString('base64') };
}

/** Seals a 32-byte VM key (see {@link seal}). */
export function sealKey(secret: Uint8Array, hostPublicKey: string, context: string): SealedKey {
  if (secret.length !== KEY_LENGTH) throw new RangeError(`a VM key is ${KEY_LENGTH} bytes, got ${secret.length}`);
  return seal(secret, hostPublicKey, context);
}

/** Opens what {@link seal} sealed, with the host's private key (raw, base64), expecting
 * `length` bytes; throws UnsealError when it was not sealed to this host, for this context,
 * or was changed. */
export function openSealed(sealed: SealedKey, hostPrivateKey: string, context: string, length: number): Buffer {
  const epk = Buffer.from(sealed.epk, 'base64');
  const nonce = Buffer.from(sealed.nonce, 'base64');
  const box = Buffer.from(sealed.box, 'base64');
  if (epk.length !== KEY_LENGTH || nonce.length !== NONCE_LENGTH || box.length !== length + TAG_LENGTH) {
    throw new UnsealError(`sealed secret has the wrong shape (epk ${epk.length}, nonce ${nonce.length}, box ${box.length} bytes)`);
  }
  const { key: priv, publicRaw: hostPk } = privateOf(hostPrivateKey);
  // Boxes from a static sender (the token issuer) come with the same epk again and again:
  // their AEAD key is cached; an ephemeral epk is agreed on once and forgotten.
  const cacheKey = `${sealed.epk}>${hostPk.toString('base64')}`;
  let key: Buffer | undefined = staticKeys.peek(cacheKey);
  const cached = key !== undefined;
  try {
    // Inside the try: a hostile ephemeral key (a low-order point) makes the key agreement
    // itself fail, and that is a sealed secret that does not open, like any other.
    key ??= aeadKey(diffieHellman({ privateKey: priv, publicKey: publicKeyObject(epk) }), epk, hostPk);
    const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_LENGTH });
    d.setAAD(Buffer.from(context, 'utf8'), { plaintextLength: length });
    d.setAuthTag(box.subarray(length));
    const out = Buffer.concat([d.update(box.subarray(0, length)), d.final()]);
    if (!cached && epkSeen.note(sealed.epk)) staticKeys.get(cacheKey, () => Buffer.from(key!)); // an epk seen twice is a static sender's
    return out;
  } catch {
    throw new UnsealError(`sealed secret does not open for this host and context (${JSON.stringify(context)})`);
  } finally {
    if (!cached) key?.fill(0);
  }
}

/** Opens a sealed 32-byte VM key (see {@link openSealed}). */
export function openSealedKey(sealed: SealedKey, hostPrivateKey: string, context: string): Buffer {
  return openSealed(sealed, hostPrivateKey, context, KEY_LENGTH);
}
