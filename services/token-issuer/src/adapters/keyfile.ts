/** The issuer's X25519 key pair in a file (JSON, raw keys in base64, mode 0600), made on first start. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateHostKeyPair, parseKeyPair, type HostKeyPair } from '@vnet/tokens';

export function loadOrCreateKeyPair(file: string): { keys: HostKeyPair; created: boolean } {
  if (existsSync(file)) return { keys: parseKeyPair(readFileSync(file, 'utf8'), file), created: false };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const keys = generateHostKeyPair();
  writeFileSync(file, JSON.stringify(keys), { mode: 0o600, flag: 'wx' });
  return { keys, created: true };
}
