/**
 * The token issuer's state: each host's public key, where each VM runs, and each VM's
 * current secret key (plaintext, in memory only: the log holds it sealed). `evolve` folds
 * the inputs; keys come from `VmKeyIssued` events, opened by the adapter (it holds the
 * issuer's private key), through `withKey`.
 */
import type { HostId, PairId, PublicKey, VmId, Vni } from '@vnet/events';
import type { IssuerInput } from './messages';

/** A VM's current key. */
export interface VmKey {
  readonly keyId: number;
  /** The host it was sealed to. */
  readonly hostId: HostId;
  /** Undefined when the logged key does not open with this issuer's key: no token can be
   * made with it, and the VM gets key id + 1 at its next placement. (The adapter may open a
   * logged key only when this is first read.) */
  readonly key: Uint8Array | undefined;
}

/** What the issuer made for a pair: where its destination is and the latest expiry (unix s). */
export interface IssuedPair {
  readonly dstHostId: HostId;
  readonly maxExpiry: number;
}

export interface IssuerState {
  readonly hosts: Map<HostId, PublicKey>;
  /** Pairs with tokens, until revoked (their tokens are then voided at the destination). */
  readonly issued: Map<PairId, IssuedPair>;
  /** Revoked pairs: their tokens up to this expiry are void, so later tokens must expire after it. */
  readonly voided: Map<PairId, number>;
  readonly vms: Map<VmId, { readonly hostId: HostId; readonly vni: Vni }>;
  readonly keys: Map<VmId, VmKey>;
  /** Authorisations folded (every `PRUNE_EVERY`, pair records no living token needs are dropped). */
  readonly folded: { authorizations: number };
}

/** How often (in authorisations) pair records are pruned. */
export const PRUNE_EVERY = 1024;

export const initialState = (): IssuerState => ({
  hosts: new Map(),
  issued: new Map(),
  voided: new Map(),
  vms: new Map(),
  keys: new Map(),
  folded: { authorizations: 0 },
});

/**
 * Drops the pair records no living token needs at time `t` (unix s): tokens that all
 * expired before `t` need no voiding, and a token made at `t` or later expires after any
 * void time before `t`. By event time only, so a rebuild prunes exactly the same.
 */
export function prunePairs(s: IssuerState, t: number): IssuerState {
  for (const [id, p] of s.issued) if (p.maxExpiry < t) s.issued.delete(id);
  for (const [id, upTo] of s.voided) if (upTo < t) s.voided.delete(id);
  return s;
}

/** Folds an input (updates the state it is given, like the other services' folds). */
export function evolve(s: IssuerState, e: IssuerInput): IssuerState {
  switch (e.type) {
    case 'HostRegistered':
      s.hosts.set(e.payload.hostId, e.payload.publicKey);
      return s;
    case 'VmMappingAdded':
      s.vms.set(e.payload.vmId, { hostId: e.payload.hostId, vni: e.payload.vni });
      return s;
    case 'VmMappingRemoved':
      if (s.vms.get(e.payload.vmId)?.hostId === e.payload.hostId) s.vms.delete(e.payload.vmId);
      return s;
    case 'PairRevoked': {
      const issued = s.issued.get(e.payload.pairId);
      if (issued) s.voided.set(e.payload.pairId, Math.max(issued.maxExpiry, s.voided.get(e.payload.pairId) ?? 0));
      s.issued.delete(e.payload.pairId);
      return s;
    }
    case 'PairAuthorized':
      if (++s.folded.authorizations % PRUNE_EVERY === 0) prunePairs(s, Math.floor(Date.parse(e.occurredAt) / 1000));
      return s;
    case 'VmMoved':
      if (s.vms.get(e.payload.vmId)?.hostId === e.payload.fromHostId) s.vms.set(e.payload.vmId, { hostId: e.payload.toHostId, vni: e.payload.vni });
      return s;
    case 'VmKeyRotationRequested':
    case 'MigrationStarted':
      return s;
    default: {
      const never: never = e;
      return never;
    }
  }
}

/** The state with a token made for `pairId` (to `dstHostId`, expiring at `expiry`) recorded. */
export function withIssued(s: IssuerState, pairId: PairId, dstHostId: HostId, expiry: number): IssuerState {
  const cur = s.issued.get(pairId);
  s.issued.set(pairId, { dstHostId, maxExpiry: Math.max(expiry, cur?.maxExpiry ?? 0) });
  return s;
}

/** The state with VM `vmId`'s current key set (a newer key id replaces an older one only). */
export function withKey(s: IssuerState, vmId: VmId, k: VmKey): IssuerState {
  const cur = s.keys.get(vmId);
  if (!cur || k.keyId >= cur.keyId) s.keys.set(vmId, k);
  return s;
}

/** A token's expiry: the authorisation's time plus the lifetime, in unix seconds (so
 * deciding the same authorisation again gives the same expiry), and always after the void
 * time of the pair's revoked tokens (a pair allowed again within the same second still
 * gets a token its destination accepts). */
export const expiryOf = (occurredAt: string, lifetimeS: number, voidedUpTo = 0): number =>
  Math.max(Math.floor(Date.parse(occurredAt) / 1000) + lifetimeS, voidedUpTo + 1);
