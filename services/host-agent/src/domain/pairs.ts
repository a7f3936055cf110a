/**
 * The source host's pair table (issue 4), as a pure state machine the data plane will drive:
 * it says what to do, the caller does it (publish a request, send or drop packets).
 *
 * - A packet from a local VM to a (VNI, destination) with no pair is held in a small queue
 *   per pair (overflow dropped and counted) and ONE request goes out for the pair, not one
 *   per packet.
 * - A token installs the pair and releases the held packets, in order.
 * - A denial drops the held packets and is remembered for `deniedForMs`: packets to that
 *   destination are dropped at once meanwhile, without new requests.
 * - A request with no answer within `requestTimeoutMs` drops its queue; the next packet
 *   asks again.
 * - A pair in use is renewed `renewBeforeS` before its token expires (or a third of the
 *   token's lifetime before, for short-lived tokens): one request, and the old token carries
 *   traffic until the new one is installed, so renewal loses no packet. Whether a pair is in
 *   use (sent on since its token came) is the caller's to say (`tick`'s `inUse`): an idle
 *   pair is let expire and forgotten, not renewed forever.
 * - Denials and unanswered requests back off: the next request for the pair waits twice as
 *   long after each one in a row (from `deniedForMs` and 1 s, up to 60 s); packets meanwhile
 *   are dropped (`denied`, `request-timeout`) without a request. A token resets it.
 * - A revocation removes the pair (and anything held for it).
 */

/** (VNI, source, destination), addresses as u32. */
export interface PairKey {
  readonly vni: number;
  readonly src: number;
  readonly dst: number;
}

/** What a token gives the source: where to send and what to carry. */
export interface PairToken {
  readonly dstUnderlay: string;
  readonly keyId: number;
  /** Unix seconds. */
  readonly expiry: number;
  readonly token: Uint8Array;
}

export type PairDrop = 'denied' | 'queue-full' | 'request-timeout' | 'revoked';

export interface PairOptions {
  readonly queuePerPair?: number;
  readonly deniedForMs?: number;
  readonly requestTimeoutMs?: number;
  readonly renewBeforeS?: number;
}

interface Entry<P> {
  readonly key: PairKey;
  token: PairToken | undefined;
  /** When the token was installed (ms): with its expiry, the token's lifetime. */
  installedAt: number;
  /** Held packets while the first token is awaited. */
  queue: P[];
  /** When the outstanding request went out (ms), or undefined. */
  requestedAt: number | undefined;
  /** Denied until (ms). */
  deniedUntil: number | undefined;
  /** Denials and unanswered requests in a row (for the back-off), and no request before (ms). */
  failures: number;
  quietUntil: number | undefined;
  lastFailureAt: number;
}

/** Longest back-off between requests for a pair that keeps failing. */
const MAX_BACKOFF_MS = 60_000;

/** What the caller must do after an event. */
export interface PairActions<P> {
  /** Publish a pair request for this key. */
  readonly request?: PairKey;
  /** Send these packets with this token. */
  readonly send?: { readonly token: PairToken; readonly packets: readonly P[] };
  /** Drop these packets, for this reason. */
  readonly drop?: { readonly reason: PairDrop; readonly packets: readonly P[] };
}

const keyOf = (k: PairKey): string => `${k.vni}/${k.src}/${k.dst}`;
const newEntry = <P>(k: PairKey): Entry<P> => ({
  key: { vni: k.vni, src: k.src, dst: k.dst },
  token: undefined,
  installedAt: 0,
  queue: [],
  requestedAt: undefined,
  deniedUntil: undefined,
  failures: 0,
  quietUntil: undefined,
  lastFailureAt: 0,
});
const NOTHING = {} as const;

export class PairTable<P> {
  private readonly entries = new Map<string, Entry<P>>();
  private readonly queuePerPair: number;
  private readonly deniedForMs: number;
  private readonly requestTimeoutMs: number;
  private readonly renewBeforeS: number;

  constructor(o: PairOptions = {}) {
    this.queuePerPair = o.queuePerPair ?? 32;
    this.deniedForMs = o.deniedForMs ?? 2_000;
    this.requestTimeoutMs = o.requestTimeoutMs ?? 3_000;
    this.renewBeforeS = o.renewBeforeS ?? 30;
  }

  /** Pairs with a token. */
  get size(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.token) n++;
    return n;
  }

  /** The token to send with, when the pair is installed and its token not expired. */
  tokenFor(k: PairKey, nowMs: number): PairToken | undefined {
    const t = this.entries.get(keyOf(k))?.token;
    return t && t.expiry * 1000 > nowMs ? t : undefined;
  }

  /** A packet with no usable token (the caller checked `tokenFor` first). */
  miss(k: PairKey, packet: P, nowMs: number): PairActions<P> {
    const id = keyOf(k);
    let e = this.entries.get(id);
    if (!e) this.entries.set(id, (e = newEntry<P>(k)));
    if (e.deniedUntil !== undefined) {
      if (nowMs < e.deniedUntil) return { drop: { reason: 'denied', packets: [packet] } };
      e.deniedUntil = undefined;
    }
    if (e.quietUntil !== undefined) {
      if (nowMs < e.quietUntil) return { drop: { reason: 'request-timeout', packets: [packet] } };
      e.quietUntil = undefined;
    }
    if (e.queue.length >= this.queuePerPair) return { drop: { reason: 'queue-full', packets: [packet] } };
    e.queue.push(packet);
    if (e.requestedAt !== undefined && nowMs - e.requestedAt < this.requestTimeoutMs) return NOTHING;
    e.requestedAt = nowMs;
    return { request: k };
  }

  /** A token arrived for the pair (at `nowMs`): install it and release what was held. */
  token(k: PairKey, t: PairToken, nowMs: number): PairActions<P> {
    const id = keyOf(k);
    let e = this.entries.get(id);
    if (!e) this.entries.set(id, (e = newEntry<P>(k)));
    // An older token (a late answer to an earlier request) never replaces a newer one.
    if (e.token && e.token.expiry > t.expiry) return NOTHING;
    e.token = t;
    e.installedAt = nowMs;
    e.requestedAt = undefined;
    e.deniedUntil = undefined;
    e.failures = 0;
    e.quietUntil = undefined;
    const packets = e.queue;
    e.queue = [];
    return packets.length > 0 ? { send: { token: t, packets } } : NOTHING;
  }

  /** The pair was denied: drop what was held, and drop new packets for a while. */
  denied(k: PairKey, nowMs: number): PairActions<P> {
    const e = this.entries.get(keyOf(k));
    if (!e) return NOTHING;
    e.token = undefined;
    e.requestedAt = undefined;
    e.failures++;
    e.lastFailureAt = nowMs;
    e.deniedUntil = nowMs + Math.min(this.deniedForMs * 2 ** (e.failures - 1), MAX_BACKOFF_MS);
    const packets = e.queue;
    e.queue = [];
    return packets.length > 0 ? { drop: { reason: 'denied', packets } } : NOTHING;
  }

  /** The pair was revoked: forget it; what was held is dropped. */
  revoked(k: PairKey): PairActions<P> {
    const id = keyOf(k);
    const e = this.entries.get(id);
    if (!e) return NOTHING;
    this.entries.delete(id);
    return e.queue.length > 0 ? { drop: { reason: 'revoked', packets: e.queue } } : NOTHING;
  }

  /**
   * Housekeeping, called every second or so: requests for pairs whose token expires within
   * `renewBeforeS` (the old token keeps working meanwhile), held packets of unanswered
   * requests dropped, expired entries without traffic forgotten.
   */
  tick(
    nowMs: number,
    inUse: (k: PairKey) => boolean = () => true,
  ): { readonly requests: PairKey[]; readonly drops: Array<{ reason: PairDrop; packets: readonly P[] }> } {
    const requests: PairKey[] = [];
    const drops: Array<{ reason: PairDrop; packets: readonly P[] }> = [];
    for (const [id, e] of this.entries) {
      if (e.requestedAt !== undefined && nowMs - e.requestedAt >= this.requestTimeoutMs) {
        e.requestedAt = undefined;
        e.failures++;
        e.lastFailureAt = nowMs;
        e.quietUntil = nowMs + Math.min(1000 * 2 ** (e.failures - 1), MAX_BACKOFF_MS);
        if (e.queue.length > 0) drops.push({ reason: 'request-timeout', packets: e.queue });
        e.queue = [];
      }
      const margin = e.token ? Math.min(this.renewBeforeS * 1000, (e.token.expiry * 1000 - e.installedAt) / 3) : 0;
      if (e.token && e.requestedAt === undefined && e.token.expiry * 1000 - nowMs <= margin) {
        if (e.token.expiry * 1000 <= nowMs - this.renewBeforeS * 1000) {
          this.entries.delete(id); // long expired and not renewed: forget it
          continue;
        }
        if (e.token.expiry * 1000 > nowMs && (e.quietUntil === undefined || e.quietUntil <= nowMs) && inUse(e.key)) {
          e.requestedAt = nowMs;
          requests.push(e.key);
        }
      }
      if (
        !e.token &&
        e.queue.length === 0 &&
        e.requestedAt === undefined &&
        (e.deniedUntil === undefined || e.deniedUntil <= nowMs) &&
        (e.quietUntil === undefined || e.quietUntil <= nowMs) &&
        // A pair that keeps failing is remembered for a while, so its back-off keeps growing.
        (e.failures === 0 || nowMs - e.lastFailureAt > MAX_BACKOFF_MS)
      ) {
        this.entries.delete(id);
      }
    }
    return { requests, drops };
  }
}
