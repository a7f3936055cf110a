/**
 * The host's keyring: the secret keys of the VMs it runs, from `VmKeyIssued` on
 * `hostkeys.<host>` (the only subject it reads them from), and of the VMs migrating to it
 * (`VmKeyShared`: the key the VM has now, so tokens made for it check here after the
 * switch), opened with the host's X25519
 * private key. A sealed key that does not open (sealed to another host, for another context,
 * changed, or hostile) is refused and reported, never guessed, and the reader goes on.
 *
 * Rotation: when a VM gets a newer key id, the older ones keep checking tokens only for
 * `maxTokenLifetimeS` after the newer key was issued (by its event time, so a restarted agent
 * does not give old keys a new grace period): tokens made before the rotation keep working
 * until they expire, and a leaked key stops working one lifetime after its replacement.
 * At most `MAX_KEY_IDS_PER_VM` key ids are kept per VM (the newest).
 * Keys of VMs that left the host are not dropped (the data plane asks only for VMs it runs).
 * Keys live in memory only; `/tables` and metrics show key ids, never bytes. The reader
 * restarts by itself when it fails (`live.ts`).
 */
import type { DomainEvent, EventOf } from '@vnet/events';
import type { EventStore } from '@vnet/eventstore';
import { keyContext, openSealedKey, UnsealError, type HostKeyPair } from '@vnet/tokens';
import { startLiveReader } from './live';

export interface Keyring {
  /** VM `vmId`'s key `keyId`, if this host holds it and it is not retired. */
  keyOf(vmId: string, keyId: number): Uint8Array | undefined;
  /** Usable key ids per VM (for `/tables`). */
  keyIds(): Record<string, number[]>;
  /** How many keys it holds (retired ones included until dropped). */
  size(): number;
  /** Sealed keys it could not open. */
  refused(): number;
  /** True while its reader is restarting after a failure. */
  down(): boolean;
  /** Resolves when `pred` holds (checked after each key), rejects after `timeoutMs`. */
  until(pred: (k: Keyring) => boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Key ids kept per VM (the newest). */
export const MAX_KEY_IDS_PER_VM = 16;

export interface KeyringOptions {
  readonly store: EventStore<DomainEvent>;
  readonly hostId: string;
  readonly keys: HostKeyPair;
  /** How long a replaced key keeps checking tokens, in seconds (default 3,600: at least the issuer's token lifetime). */
  readonly maxTokenLifetimeS?: number;
  /** Unix ms now (default: the clock). */
  readonly now?: () => number;
  readonly onError?: (e: Error) => void;
  /** A migrating VM's key was shared with this host (`VmKeyShared`) and opened: the agent says it is ready. */
  readonly onShared?: (shared: EventOf<'VmKeyShared'>) => void;
}

interface HeldKey {
  readonly key: Uint8Array;
  /** When a newer key of the VM was issued (ms), or undefined while this is the newest. */
  supersededAt: number | undefined;
}

export function startKeyring(o: KeyringOptions): Keyring {
  const graceMs = (o.maxTokenLifetimeS ?? 3600) * 1000;
  const now = o.now ?? Date.now;
  const byVm = new Map<string, Map<number, HeldKey>>();
  let refused = 0;
  let count = 0;
  const waiters = new Set<() => void>();
  const usable = (k: HeldKey) => k.supersededAt === undefined || now() < k.supersededAt + graceMs;
  const ring: Keyring = {
    keyOf: (vmId, keyId) => {
      const k = byVm.get(vmId)?.get(keyId);
      return k && usable(k) ? k.key : undefined;
    },
    keyIds: () =>
      Object.fromEntries(
        [...byVm].map(([vm, m]) => [
          vm,
          [...m]
            .filter(([, k]) => usable(k))
            .map(([id]) => id)
            .sort((a, b) => a - b),
        ]),
      ),
    size: () => count,
    refused: () => refused,
    down: () => reader.down(),
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
    stop: () => reader.stop(),
  };
  const reader = startLiveReader({ store: o.store, filter: `vnet.evt.hostkeys.${o.hostId}`, onError: (e) => o.onError?.(e) }, (r) => {
    const e = r.event;
    if ((e.type !== 'VmKeyIssued' && e.type !== 'VmKeyShared') || e.payload.hostId !== o.hostId) return;
    const p = e.payload;
    let key: Buffer;
    try {
      key = openSealedKey(p.sealedForHost, o.keys.privateKey, keyContext(p.vmId, p.hostId, p.keyId));
    } catch (err) {
      refused++;
      const why = err instanceof UnsealError ? "does not open with this host's key" : `could not be read (${err instanceof Error ? err.message : String(err)})`;
      o.onError?.(new Error(`key ${p.keyId} of VM ${p.vmId} at position ${r.position} ${why}: refused`));
      for (const w of waiters) w();
      return;
    }
    let m = byVm.get(p.vmId);
    if (!m) byVm.set(p.vmId, (m = new Map()));
    const issuedAt = Date.parse(e.occurredAt);
    // The newest key id is current; every older one is superseded as of this key's issue time.
    const newest = Math.max(p.keyId, ...m.keys());
    if (!m.has(p.keyId)) count++;
    m.set(p.keyId, { key, supersededAt: p.keyId < newest ? issuedAt : undefined });
    for (const [id, k] of m) if (id < p.keyId && k.supersededAt === undefined) k.supersededAt = issuedAt;
    while (m.size > MAX_KEY_IDS_PER_VM) {
      m.delete(Math.min(...m.keys()));
      count--;
    }
    for (const w of waiters) w();
    if (e.type === 'VmKeyShared') o.onShared?.(e);
  });
  return ring;
}
