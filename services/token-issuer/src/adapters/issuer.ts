/**
 * The token issuer on the shared runner. Its decisions hold fresh randomness (a new VM key,
 * the ephemeral keys of sealing), so the runner folds the outputs as the log stores them
 * (`foldOutput`) over what deciding again on start produced: the keys in memory are always
 * the ones the hosts received. Output ids are still derived from the input, so a decision is
 * stored once however often it is decided.
 *
 * - `VmMappingAdded` for a VM with no key, or whose key was sealed to another host: a new
 *   32-byte key (key id + 1), sealed to the VM's host and to the issuer (`VmKeyIssued` on
 *   `hostkeys.<host>`).
 * - `VmKeyRotationRequested` for a placed VM: a new key (key id + 1, reason `rotated`), sealed
 *   the same way. Tokens made with the earlier key keep checking until they expire (hosts
 *   keep earlier key ids); tokens issued after it use the new key. A request for a VM that
 *   is not placed (or whose host has no public key) changes nothing, and is logged.
 * - `PairRevoked` of a pair it made tokens for: `PairTokensVoided` on `hostvoids.<destination
 *   host>`, voiding every token of the pair up to the latest expiry it issued, so the
 *   destination refuses them too (a source that ignores the revocation gets nowhere).
 * - `PairAuthorized`: a token made with the destination VM's current key, valid until the
 *   authorisation's time + the token lifetime, sealed to the source host
 *   (`PairTokenIssued` on `hostpairs.<source host>.<pair>`), with the issuer's own key pair as the
 *   sender (the AEAD key per source host is cached: one ChaCha20-Poly1305 per token). Without a key for the
 *   destination or a public key for the source host there is no token (the agent asks again).
 */
import { randomBytes } from 'node:crypto';
import { Counter, type Registry } from 'prom-client';
import { ipv4ToInt, SealedBox, U32, mustDecode, type DomainEvent, type EventOf, type HostId, type VmId } from '@vnet/events';
import type { EventStore } from '@vnet/eventstore';
import { startRunner, type DeciderSpec, type Runner } from '@vnet/runner';
import type { Logger } from '@vnet/service-kit';
import { keyContext, mintToken, openSealedKey, seal, sealKey, tokenContext, UnsealError, type HostKeyPair } from '@vnet/tokens';
import { isInput, isOutput, type IssuerInput, type IssuerOutput } from '../domain/messages';
import { evolve, expiryOf, initialState, withIssued, withKey, type IssuerState } from '../domain/state';

export interface IssuerOptions {
  /** The issuer's own X25519 key pair (its copies of VM keys are sealed to it). */
  readonly keys: HostKeyPair;
  /** Token lifetime in seconds. */
  readonly tokenLifetimeS: number;
  readonly log?: Logger;
}

const u32 = (n: number) => mustDecode(U32, n);
const box = (b: unknown) => mustDecode(SealedBox, b);

/** The issuer as a runner spec. */
export function issuerSpec(o: IssuerOptions): DeciderSpec<IssuerState, IssuerInput, IssuerOutput> {
  /** Plaintext keys of the decisions being applied (never in an event). */
  const fresh = new WeakMap<object, Uint8Array>();
  /** The same keys by their sealed box for the issuer, until the log hands the output back:
   * a stored key that is the one just decided needs no opening (bounded, oldest out). */
  const freshByBox = new Map<string, Uint8Array>();

  const newKey = (s: IssuerState, vmId: VmId, hostId: HostId, rotate: boolean): IssuerOutput[] => {
    const cur = s.keys.get(vmId);
    if (!rotate && cur && cur.hostId === hostId && cur.key) return [];
    const hostKey = s.hosts.get(hostId);
    if (!hostKey) {
      o.log?.warn({ vmId, hostId }, 'no public key for the host: VM key not issued');
      return [];
    }
    const keyId = (cur?.keyId ?? 0) + 1;
    const key = randomBytes(32);
    const ctx = keyContext(vmId, hostId, keyId);
    const payload = {
      vmId,
      hostId,
      keyId: u32(keyId),
      reason: cur ? ('rotated' as const) : ('placed' as const),
      sealedForHost: box(sealKey(key, hostKey, ctx)),
      sealedForIssuer: box(sealKey(key, o.keys.publicKey, ctx)),
    };
    fresh.set(payload, key);
    freshByBox.set(payload.sealedForIssuer.box, key);
    if (freshByBox.size > 10_000) freshByBox.delete(freshByBox.keys().next().value!);
    return [{ type: 'VmKeyIssued', payload }];
  };

  /** Migration prepared: the VM's current key sealed to the target host as well, so tokens
   * the sources hold check there from the switch on (until the new key takes over). */
  const shareKey = (s: IssuerState, e: EventOf<'MigrationStarted'>): IssuerOutput[] => {
    const p = e.payload;
    const cur = s.keys.get(p.vmId);
    const hostKey = s.hosts.get(p.toHostId);
    const key = cur?.key;
    if (!cur || !key || !hostKey) {
      o.log?.warn({ migrationId: p.migrationId, vmId: p.vmId, toHostId: p.toHostId }, 'no key for the VM or no public key for the target: key not shared');
      return [];
    }
    const sealedForHost = box(sealKey(key, hostKey, keyContext(p.vmId, p.toHostId, cur.keyId)));
    return [{ type: 'VmKeyShared', payload: { migrationId: p.migrationId, vmId: p.vmId, hostId: p.toHostId, keyId: u32(cur.keyId), vni: p.vni, ip: p.ip, fromUnderlay: p.fromUnderlay, sealedForHost } }];
  };

  const token = (s: IssuerState, e: EventOf<'PairAuthorized'>): IssuerOutput[] => {
    const p = e.payload;
    const dstKey = s.keys.get(p.dstVmId);
    const srcHostKey = s.hosts.get(p.hostId);
    if (!dstKey?.key || !srcHostKey) {
      o.log?.warn({ pairId: p.pairId, dstVm: p.dstVmId, srcHost: p.hostId }, 'no key for the destination VM or the source host: no token');
      return [];
    }
    const expiry = expiryOf(e.occurredAt, o.tokenLifetimeS, s.voided.get(p.pairId));
    const t = mintToken(dstKey.key, { vni: p.vni, src: ipv4ToInt(p.srcIp), dst: ipv4ToInt(p.dstIp), dstUnderlay: p.dstUnderlay, keyId: dstKey.keyId, expiry });
    return [
      {
        type: 'PairTokenIssued',
        payload: {
          pairId: p.pairId,
          hostId: p.hostId,
          vni: p.vni,
          srcIp: p.srcIp,
          dstIp: p.dstIp,
          dstHostId: p.dstHostId,
          dstUnderlay: p.dstUnderlay,
          keyId: u32(dstKey.keyId),
          expiry: u32(expiry),
          sealedToken: box(seal(t, srcHostKey, tokenContext(p.pairId, dstKey.keyId, expiry, p.dstUnderlay), o.keys)),
        },
      },
    ];
  };

  /**
   * The issuer's copy of a logged key, opened when first needed (a restart folds every key in
   * the log; most are never used before they are replaced, and opening is an X25519 agreement).
   */
  const openLogged = (s: IssuerState, ev: DomainEvent): IssuerState => {
    if (ev.type !== 'VmKeyIssued') return s;
    const p = ev.payload;
    const decided = freshByBox.get(p.sealedForIssuer.box);
    if (decided) {
      // The output this issuer just wrote (the same sealed box): its key is known.
      freshByBox.delete(p.sealedForIssuer.box);
      return withKey(s, p.vmId as VmId, { keyId: p.keyId, hostId: p.hostId as HostId, key: decided });
    }
    let opened: { key: Uint8Array | undefined } | undefined;
    const open = (): Uint8Array | undefined => {
      if (opened) return opened.key;
      try {
        opened = { key: openSealedKey(p.sealedForIssuer, o.keys.privateKey, keyContext(p.vmId, p.hostId, p.keyId)) };
      } catch (e) {
        if (!(e instanceof UnsealError)) throw e;
        // Sealed to another issuer key: no token with it (hosts could not check one made with
        // anything else); the VM gets key id + 1 at its next placement or rotation.
        o.log?.error({ vmId: p.vmId, keyId: p.keyId }, 'VM key in the log does not open with this issuer key: no tokens for this VM until it gets a new key');
        opened = { key: undefined };
      }
      return opened.key;
    };
    return withKey(s, p.vmId as VmId, {
      keyId: p.keyId,
      hostId: p.hostId as HostId,
      get key() {
        return open();
      },
    });
  };

  return {
    name: 'token-issuer',
    initial: initialState,
    isInput,
    isOutput,
    decide: (s, e) => {
      switch (e.type) {
        case 'VmMappingAdded':
          return newKey(s, e.payload.vmId, e.payload.hostId, false);
        case 'VmKeyRotationRequested': {
          const placed = s.vms.get(e.payload.vmId);
          if (!placed) {
            o.log?.warn({ vmId: e.payload.vmId }, 'key rotation asked for a VM that is not placed: nothing to rotate');
            return [];
          }
          return newKey(s, e.payload.vmId, placed.hostId, true);
        }
        case 'MigrationStarted':
          return shareKey(s, e);
        case 'VmMoved':
          // A new key sealed to the VM's new host only (the source knew the old one).
          return newKey(s, e.payload.vmId, e.payload.toHostId, false);
        case 'PairAuthorized':
          return token(s, e);
        case 'PairRevoked': {
          const p = e.payload;
          const issued = s.issued.get(p.pairId);
          if (!issued) return [];
          return [
            {
              type: 'PairTokensVoided',
              payload: { pairId: p.pairId, hostId: issued.dstHostId, vni: p.vni, srcIp: p.srcIp, dstIp: p.dstIp, voidUpTo: u32(issued.maxExpiry) },
            },
          ];
        }
        default:
          return [];
      }
    },
    apply: (s, e, decisions) => {
      let next = evolve(s, e);
      for (const d of decisions) {
        if (d.type === 'PairTokenIssued') next = withIssued(next, d.payload.pairId, d.payload.dstHostId, d.payload.expiry);
        if (d.type !== 'VmKeyIssued') continue;
        const key = fresh.get(d.payload);
        if (key) next = withKey(next, d.payload.vmId, { keyId: d.payload.keyId, hostId: d.payload.hostId, key });
      }
      return next;
    },
    foldOutput: openLogged,
    // Deciding a placement again makes a new random key and seals it twice, only for the
    // stored one to replace it: on restart, inputs with stored outputs are folded, not decided.
    redecideOnRebuild: false,
    outputKey: (d) => (d.type === 'VmKeyIssued' || d.type === 'VmKeyShared' ? d.payload.vmId : d.payload.pairId),
  };
}

/** Starts issuing, counting into `registry`. */
export function startIssuer(store: EventStore<DomainEvent>, registry: Registry, o: IssuerOptions & { readonly log: Logger }): Promise<Runner<IssuerState>> {
  const issued = new Counter({ name: 'vnet_token_issuer_issued_total', help: 'keys and tokens issued, by type', labelNames: ['type'], registers: [registry] });
  return startRunner(store, issuerSpec(o), o.log, {
    written: (outputs) => {
      for (const out of outputs) issued.inc({ type: out.type });
    },
  });
}
