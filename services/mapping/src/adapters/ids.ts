/**
 * Output event ids derived from the input: a name-based UUID (version 8, RFC 9562 §5.8) from
 * SHA-256 of (input id, output type, VM id). Deciding the same input again gives the same
 * ids, so the store's `Nats-Msg-Id` deduplication stores a redelivered decision once.
 * Within one decision every output has a distinct (type, VM) pair.
 */
import { createHash } from 'node:crypto';
import type { EventId } from '@vnet/events';

/** The id of output `type` about `vmId` decided for input `inputId`. */
export function derivedEventId(inputId: string, type: string, vmId: string): EventId {
  const h = createHash('sha256').update(`vnet.mapping\n${inputId}\n${type}\n${vmId}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x80; // version 8
  h[8] = (h[8]! & 0x3f) | 0x80; // RFC variant
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}` as EventId;
}
