/**
 * The host agent's side of the pair flow (design.md, "Flows"), between the data
 * plane and the log:
 *
 * - Source side: the data plane asks for a pair (`request`, from `onPairMiss`: a first
 *   packet, a timed-out request, a renewal) → one `PairRequested` on
 *   `hostpairs.<host>.<pairId>`. The answers on `hostpairs.<host>.>` (read live from where
 *   the log stood at start: an agent that restarts asks again) are carried out on the data
 *   plane: `PairTokenIssued` → the token, opened with the host's private key, installed
 *   (held packets go out); `PairDenied` → dropped and cached negatively; `PairRevoked` →
 *   removed at once. A token whose authorisation the log holds before a revocation or
 *   denial of the same pair (the issuer answered an authorisation that was withdrawn
 *   meanwhile) is not installed: the token names its authorisation (`causationId`), and the
 *   agent remembers where each authorisation and the last withdrawal of each pair stand.
 *   A token is installed only for the pair its event names (`pairId` must be the id of its
 *   VNI and addresses), its sealing binds pair, key id, expiry and destination address, and
 *   with `issuerPublicKey` only a token the token issuer sealed (its key is the box's sender).
 *   The reader restarts by itself after a failure (`live.ts`).
 * - Destination side: `PairTokensVoided` on `hostvoids.<host>` (read from one maximum token
 *   lifetime back: older voids concern no living token) voids a revoked pair's tokens in the
 *   data plane's verifier, so a source that ignores the revocation gets nowhere.
 *   Tokens the data plane refused are summed per (reason, VNI, source,
 *   destination) and reported as sampled `TokenRejected` events on `hostrejects.<host>`:
 *   at most `maxReportsPerInterval` events per interval (default 16), with how many packets
 *   each stands for; what does not fit is counted (`unreported`), never queued without bound.
 */
import { performance } from 'node:perf_hooks';
import {
  HostId,
  intToIpv4,
  ipv4ToInt,
  mustDecode,
  newEvent,
  pairIdOf,
  PositiveInt,
  TokenRejectionReason,
  U32,
  VmId,
  Vni,
  streamNameOf,
  type DomainEvent,
} from '@vnet/events';
import type { EventStore } from '@vnet/eventstore';
import { openSealed, tokenContext, TOKEN_LENGTH, UnsealError, type HostKeyPair } from '@vnet/tokens';
import type { DataPlane, PairRequest } from './dataplane-types';
import { startLiveReader } from './live';

export interface PairFlowOptions {
  readonly store: EventStore<DomainEvent>;
  readonly hostId: string;
  readonly keys: HostKeyPair;
  /** The token issuer's public key (base64): when given, a token sealed by anyone else is not installed. */
  readonly issuerPublicKey?: string;
  /** The data plane, once it exists (answers arriving before are ignored: nothing asked yet). */
  readonly plane: () => DataPlane | undefined;
  /** How often sampled TokenRejected events go out (ms, default 1,000). */
  readonly reportEveryMs?: number;
  /** At most this many TokenRejected events per interval (default 16). */
  readonly maxReportsPerInterval?: number;
  /** How far back voids are read on start, in seconds (the longest token lifetime; default 3,600). */
  readonly maxTokenLifetimeS?: number;
  /** Each pair installed after a request of this agent: ms from the request to the token. */
  readonly onSetup?: (ms: number) => void;
  readonly onError?: (e: Error) => void;
}

export interface PairFlow {
  /** For the data plane's `onPairMiss`: publishes the request. */
  request(r: PairRequest): void;
  /** For the data plane's `onRejected`: counts the refused frame towards the next report. */
  rejected(reason: string, vni: number, src: number, dst: number, keyId: number): void;
  /** Requests published, answers applied, tokens not installed (withdrawn meanwhile, or not opening), reports written / not written. */
  stats(): { requests: number; tokens: number; staleTokens: number; denials: number; revocations: number; voids: number; refusedTokens: number; reports: number; unreported: number };
  /** Writes the pending rejection reports now. */
  flushReports(): Promise<void>;
  /** True while its reader is restarting after a failure. */
  down(): boolean;
  stop(): Promise<void>;
}

const pairKey = (vni: number, src: number, dst: number): string => `${vni}/${src}/${dst}`;

export async function startPairFlow(o: PairFlowOptions): Promise<PairFlow> {
  const hostId = mustDecode(HostId, o.hostId);
  const stats = { requests: 0, tokens: 0, staleTokens: 0, denials: 0, revocations: 0, voids: 0, refusedTokens: 0, reports: 0, unreported: 0 };
  /** Outstanding requests of this agent: pair → when asked (performance.now()). */
  const asked = new Map<string, number>();
  /** Log position of each authorisation seen, by event id, until its token comes (bounded). */
  const authorizedAt = new Map<string, number>();
  /** Log position of each pair's last revocation or denial (bounded). */
  const withdrawnAt = new Map<string, number>();
  /** Sets k (as the newest entry); past 100,000 entries the oldest goes. */
  const bounded = <V>(m: Map<string, V>, k: string, v: V) => {
    m.delete(k);
    m.set(k, v);
    if (m.size > 100_000) m.delete(m.keys().next().value!);
  };
  const report = (e: unknown) => o.onError?.(e instanceof Error ? e : new Error(String(e)));

  // Answers from where the log stands now: requests go out only after this.
  const from = (await o.store.lastPosition()) + 1;
  const reader = startLiveReader({ store: o.store, filter: `vnet.evt.hostpairs.${o.hostId}.>`, fromPosition: from, onError: report }, (r) => {
    const e = r.event;
    const plane = o.plane();
    if (!plane) return;
    switch (e.type) {
      case 'PairAuthorized':
        if (e.payload.hostId === o.hostId) bounded(authorizedAt, e.id, r.position);
        return;
      case 'PairTokenIssued': {
        const p = e.payload;
        if (p.hostId !== o.hostId) return;
        if (p.pairId !== pairIdOf(p.vni, ipv4ToInt(p.srcIp), ipv4ToInt(p.dstIp))) {
          stats.refusedTokens++;
          report(new Error(`token at position ${r.position} names pair ${p.pairId} but carries VNI ${p.vni} ${p.srcIp} -> ${p.dstIp}: not installed`));
          return;
        }
        if (o.issuerPublicKey !== undefined && p.sealedToken.epk !== o.issuerPublicKey) {
          stats.refusedTokens++;
          report(new Error(`token for pair ${p.pairId} at position ${r.position} was not sealed by the token issuer: not installed`));
          return;
        }
        const authorized = e.causationId === null ? undefined : authorizedAt.get(e.causationId);
        if (e.causationId !== null) authorizedAt.delete(e.causationId);
        const withdrawn = withdrawnAt.get(p.pairId);
        if (withdrawn !== undefined && (authorized === undefined || authorized < withdrawn)) {
          stats.staleTokens++;
          return; // made for an authorisation withdrawn since (or before this agent started reading)
        }
        let token: Buffer;
        try {
          token = openSealed(p.sealedToken, o.keys.privateKey, tokenContext(p.pairId, p.keyId, p.expiry, p.dstUnderlay), TOKEN_LENGTH);
        } catch (err) {
          stats.refusedTokens++;
          report(
            new Error(
              `token for pair ${p.pairId} at position ${r.position} ${err instanceof UnsealError ? 'does not open with this host key' : `could not be read (${err instanceof Error ? err.message : String(err)})`}: not installed`,
            ),
          );
          return;
        }
        const src = ipv4ToInt(p.srcIp);
        const dst = ipv4ToInt(p.dstIp);
        plane.setPair(p.vni, src, dst, { dstUnderlay: p.dstUnderlay, keyId: p.keyId, expiry: p.expiry, token });
        stats.tokens++;
        const k = pairKey(p.vni, src, dst);
        const t0 = asked.get(k);
        if (t0 !== undefined) {
          asked.delete(k);
          o.onSetup?.(performance.now() - t0);
        }
        return;
      }
      case 'PairDenied': {
        const p = e.payload;
        if (p.hostId !== o.hostId) return;
        bounded(withdrawnAt, p.pairId, r.position);
        const src = ipv4ToInt(p.srcIp);
        const dst = ipv4ToInt(p.dstIp);
        asked.delete(pairKey(p.vni, src, dst));
        plane.pairDenied(p.vni, src, dst);
        stats.denials++;
        return;
      }
      case 'PairRevoked': {
        const p = e.payload;
        if (p.hostId !== o.hostId) return;
        bounded(withdrawnAt, p.pairId, r.position);
        plane.setPair(p.vni, ipv4ToInt(p.srcIp), ipv4ToInt(p.dstIp), undefined);
        stats.revocations++;
        return;
      }
      default:
        return; // our own requests
    }
  });

  // ---- destination side: voided tokens of revoked pairs
  const voids = startLiveReader(
    {
      store: o.store,
      filter: `vnet.evt.hostvoids.${o.hostId}`,
      fromTime: new Date(Date.now() - (o.maxTokenLifetimeS ?? 3600) * 1000),
      onError: report,
    },
    (r) => {
      const e = r.event;
      if (e.type !== 'PairTokensVoided' || e.payload.hostId !== o.hostId) return;
      const p = e.payload;
      o.plane()?.voidTokens(p.vni, ipv4ToInt(p.srcIp), ipv4ToInt(p.dstIp), p.voidUpTo);
      stats.voids++;
    },
  );

  // ---- sampled rejection reports
  const reportEveryMs = o.reportEveryMs ?? 1000;
  const maxReports = o.maxReportsPerInterval ?? 16;
  const pending = new Map<string, { reason: string; vni: number; src: number; dst: number; keyId: number; packets: number }>();
  let writing: Promise<void> = Promise.resolve();
  const flushReports = (): Promise<void> => {
    if (pending.size === 0) return writing;
    const batch = [...pending.values()];
    pending.clear();
    const events = batch.map((b) =>
      newEvent('TokenRejected', {
        hostId,
        reason: mustDecode(TokenRejectionReason, b.reason),
        vni: mustDecode(Vni, b.vni),
        srcIp: intToIpv4(b.src),
        dstIp: intToIpv4(b.dst),
        keyId: mustDecode(U32, b.keyId),
        packets: mustDecode(PositiveInt, b.packets),
      }),
    );
    writing = writing.catch(() => undefined).then(async () => {
      const r = await o.store.appendToStream(`hostrejects.${o.hostId}`, events);
      if (r._tag === 'Left') report(new Error(`TokenRejected reports not written (${r.left._tag}): ${events.length} lost`));
      else stats.reports += events.length;
    });
    return writing;
  };
  const timer = setInterval(() => void flushReports().catch(report), reportEveryMs);
  timer.unref();

  return {
    request(r) {
      const srcIp = intToIpv4(r.src);
      const dstIp = intToIpv4(r.dst);
      const pairId = pairIdOf(r.vni, r.src, r.dst);
      let ev: DomainEvent;
      try {
        ev = newEvent('PairRequested', { pairId, hostId, vni: mustDecode(Vni, r.vni), srcVmId: mustDecode(VmId, r.srcVmId), srcIp, dstIp });
      } catch (e) {
        report(e);
        return;
      }
      if (!r.renewal) bounded(asked, pairKey(r.vni, r.src, r.dst), performance.now());
      stats.requests++;
      // Not awaited: the packet path goes on. A request that is not written is asked again
      // after the data plane's request timeout.
      o.store.appendToStream(streamNameOf(ev), [ev]).then(
        (res) => res._tag === 'Left' && report(new Error(`pair request ${pairId} not written (${res.left._tag})`)),
        report,
      );
    },
    rejected(reason, vni, src, dst, keyId) {
      const k = `${reason}/${vni}/${src}/${dst}`;
      const p = pending.get(k);
      if (p) {
        p.packets++;
        p.keyId = keyId;
      } else if (pending.size < maxReports) pending.set(k, { reason, vni, src, dst, keyId, packets: 1 });
      else stats.unreported++;
    },
    stats: () => ({ ...stats }),
    flushReports,
    down: () => reader.down() || voids.down(),
    async stop() {
      clearInterval(timer);
      await flushReports().catch(report);
      await Promise.all([reader.stop(), voids.stop()]);
    },
  };
}
