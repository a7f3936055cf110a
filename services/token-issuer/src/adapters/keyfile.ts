/** The issuer's X25519 key pair in a file (JSON, raw keys in base64, mode 0600), made on first start. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateHostKeyPair, publicKeyOf, type HostKeyPair } from '@vnet/tokens';

export function loadOrCreateKeyPair(file: string): { keys: HostKeyPair; created: boolean } {
  if (existsSync(file)) {
    const k = JSON.parse(readFileSync(file, 'utf8')) as Partial<HostKeyPair>;
    if (typeof k.privateKey !== 'string') throw new Error(`${file}: no privateKey (expected {"publicKey": base64, "privateKey": base64})`);
    const publicKey = publicKeyOf(k.privateKey);
    if (k.publicKey !== undefined && k.publicKey !== publicKey) throw new Error(`${file}: publicKey does not belong to privateKey`);
    return { keys: { publicKey, privateKey: k.privateKey }, created: false };
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const keys = generateHostKeyPair();
  writeFileSync(file, JSON.stringify(keys), { mode: 0o600, flag: 'wx' });
  return { keys, created: true };
}
