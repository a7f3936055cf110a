/**
 * The text of a key-pair file: JSON `{"publicKey": base64, "privateKey": …}` where the
 * private key is the raw 32 bytes in base64 (what `generateHostKeyPair` gives) or a PKCS#8
 * PEM (what older `vnet up` data folders hold). The public key, when present, must belong to
 * the private key. Reading the file is the caller's business.
 */
import { createPrivateKey } from 'node:crypto';
import { publicKeyOf, type HostKeyPair } from './sealing';

export function parseKeyPair(text: string, where = 'key file'): HostKeyPair {
  let k: { publicKey?: unknown; privateKey?: unknown };
  try {
    k = JSON.parse(text) as typeof k;
  } catch (e) {
    throw new Error(`${where}: not JSON (${(e as Error).message})`);
  }
  if (typeof k.privateKey !== 'string') throw new Error(`${where}: no "privateKey" (expected {"publicKey": base64, "privateKey": base64 or PEM})`);
  let raw = k.privateKey;
  if (raw.includes('-----BEGIN')) {
    const key = createPrivateKey({ key: raw, format: 'pem' });
    if (key.asymmetricKeyType !== 'x25519') throw new Error(`${where}: the PEM private key is not an X25519 key (it is ${key.asymmetricKeyType ?? 'unknown'})`);
    raw = key.export({ format: 'der', type: 'pkcs8' }).subarray(16).toString('base64');
  }
  let publicKey: string;
  try {
    publicKey = publicKeyOf(raw);
  } catch (e) {
    throw new Error(`${where}: privateKey is not a raw X25519 key in base64 (${(e as Error).message})`);
  }
  if (k.publicKey !== undefined && k.publicKey !== publicKey) throw new Error(`${where}: publicKey does not belong to privateKey`);
  return { publicKey, privateKey: raw };
}
