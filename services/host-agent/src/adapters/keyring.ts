/**
 * The host's keyring: the secret keys of the VMs it runs, from `VmKeyIssued` on
 * `hostkeys.<host>` (the only subject it reads them from), opened with the host's X25519
 * private key. Earlier key ids are kept (tokens made with an earlier key keep checking while
 * they live); keys are not dropped when a VM leaves the host (the data plane asks only for
 * VMs the host runs, so they are never used). A sealed key that does not
 * open (sealed to another host, for another context, changed, or hostile) is refused and
 * reported, never guessed, and the reader goes on with the next one. Per VM the newest
 * `MAX_KEY_IDS_PER_VM` key ids are kept: a token lives minutes, rotations are rarer, and a
 * VM rotated over and over does not grow the ring.
 * Keys live in memory only; `/tables` and metrics show key ids, never bytes.
 */
import type { DomainEvent } from '@vnet/events';
import type { EventStore } from '@vnet/eventstore';
import { keyContext, openSealedKey, UnsealError, type HostKeyPair } from '@vnet/tokens';

export interface Keyring {
  /** VM `vmId`'s key `keyId`, if this host holds it. */
  keyOf(vmId: string, keyId: number): Uint8Array | undefined;
  /** Key ids per VM (for `/tables`). */
  keyIds(): Record<string, number[]>;
  /** How many keys it holds. */
  size(): number;
  /** Sealed keys it could not open. */
  refused(): number;
  /** Resolves when `pred` holds (checked after each key), rejects after `timeoutMs`. */
  until(pred: (k: Keyring) => boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Key ids kept per VM (the newest). */
export const MAX_KEY_IDS_PER_VM = 4;

export interface KeyringOptions {
  readonly store: EventStore<DomainEvent>;
  readonly hostId: string;
  readonly keys: HostKeyPair;
  readonly onError?: (e: Error) => void;
}

export function startKeyring(o: KeyringOptions): Keyring {
  const byVm = new Map<string, Map<number, Uint8Array>>();
  let refused = 0;
  let count = 0;
  const waiters = new Set<() => void>();
  const ac = new AbortController();
  const ring: Keyring = {
    keyOf: (vmId, keyId) => byVm.get(vmId)?.get(keyId),
    keyIds: () => Object.fromEntries([...byVm].map(([vm, m]) => [vm, [...m.keys()].sort((a, b) => a - b)])),
    size: () => count,
    refused: () => refused,
    until: (pred, timeoutMs = 10_000) =>
      pred(ring)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const check = () => {
              if (!pred(ring)) return;
              clearTimeout(t);
              waiters.delete(check);
              resolve();
            };
            const t = setTimeout(() => (waiters.delete(check), reject(new Error(`host ${o.hostId}: keyring not as expected after ${timeoutMs} ms`))), timeoutMs);
            waiters.add(check);
          }),
    stop: async () => {
      ac.abort();
      await reading.catch(() => undefined);
    },
  };
  const reading = o.store.forEachEvent({ filter: `vnet.evt.hostkeys.${o.hostId}`, live: true, signal: ac.signal }, (r) => {
    const e = r.event;
    if (e.type !== 'VmKeyIssued' || e.payload.hostId !== o.hostId) return;
    const p = e.payload;
    try {
      const key = openSealedKey(p.sealedForHost, o.keys.privateKey, keyContext(p.vmId, p.hostId, p.keyId));
      let m = byVm.get(p.vmId);
      if (!m) byVm.set(p.vmId, (m = new Map()));
      if (!m.has(p.keyId)) count++;
      m.set(p.keyId, key);
      if (m.size > MAX_KEY_IDS_PER_VM) {
        m.delete(Math.min(...m.keys()));
        count--;
      }
    } catch (err) {
      refused++;
      if (!(err instanceof UnsealError)) {
        o.onError?.(new Error(`key ${p.keyId} of VM ${p.vmId} at position ${r.position} could not be read (${err instanceof Error ? err.message : String(err)}): refused`));
        return;
      }
      o.onError?.(new Error(`key ${p.keyId} of VM ${p.vmId} at position ${r.position} does not open with this host's key: refused`));
    }
    for (const w of waiters) w();
  });
  reading.catch((e: unknown) => o.onError?.(e instanceof Error ? e : new Error(String(e))));
  return ring;
}
