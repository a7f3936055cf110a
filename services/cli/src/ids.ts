/** Name-based ids for events the CLI makes up. */
import { createHash } from 'node:crypto';

/** A UUID (version 8, RFC 9562) from a SHA-256 of `text`: the same text gives the same id. */
export function uuidOf(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
