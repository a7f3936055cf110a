/**
 * Token checking at the destination host, before a packet is delivered to a local VM (the
 * data plane calls it for every frame from the underlay).
 *
 * In order, a packet is refused as:
 * - `wrong-vni`: its destination address is a VM of this host, but in another VNI;
 * - `wrong-host`: its destination is not on this host (the VNI's table puts it elsewhere);
 * - `missing`: it carries no token;
 * - `expired`: the token's expiry has passed;
 * - `expiry-too-far`: it claims to live longer than any token the issuer makes (`maxLifetimeS`:
 *   whoever holds a leaked key cannot mint tokens that outlive its retirement);
 * - `revoked`: the pair was revoked and the token was made before (its expiry is at or
 *   before the pair's `voidUpTo`, see {@link TokenVerifier.void});
 * - `unknown-key`: this host holds no key with that id for the destination VM;
 * - `forged`: the MAC does not match (made with another key, for other addresses, for
 *   another host's underlay, or changed). For a VM that moved here by live migration, a
 *   token made for its source host's underlay counts during the grace period (`acceptMoved`).
 * A token that checked once is remembered per (VNI, source, destination) with its key id,
 * expiry, bytes, destination VM and the key it checked with, so the steady state compares 16
 * bytes instead of computing an HMAC; a remembered token counts only for the same VM and
 * while that key is still held (another VM at the address, or a retired key, means checking
 * again). The comparison never stops early, whether it hits the cache or not.
 */
import { tokenMatches, TOKEN_LENGTH } from '@vnet/tokens';

export type TokenRejection = 'missing' | 'forged' | 'expired' | 'expiry-too-far' | 'revoked' | 'wrong-host' | 'wrong-vni' | 'unknown-key';

/** What a packet says about itself. */
export interface PacketToken {
  readonly vni: number;
  readonly src: number;
  readonly dst: number;
  /** Undefined when the frame has no token option. */
  readonly keyId: number | undefined;
  readonly expiry: number;
  readonly token: Uint8Array | undefined;
}

/** Where the destination is, as the host's tables say. */
export type Destination =
  | { readonly kind: 'local'; readonly vmId: string }
  | { readonly kind: 'local-other-vni' }
  | { readonly kind: 'elsewhere' };

interface Verified {
  readonly keyId: number;
  readonly expiry: number;
  readonly token: Uint8Array;
  readonly vmId: string;
  /** The key it checked with (compared by identity with what the keyring holds now). */
  readonly key: Uint8Array;
}

/** Equal 16-byte tokens, looking at every byte whatever differs. */
function sameToken(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < TOKEN_LENGTH; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

export class TokenVerifier {
  /** vni → src → dst → the token that checked. */
  private readonly cache = new Map<number, Map<number, Map<number, Verified>>>();
  /** `${vni}/${src}/${dst}` → tokens of the pair expiring at or before this (unix s) are void. */
  private readonly voids = new Map<string, number>();
  private cached = 0;
  /** VMs that moved here by live migration: the source host's underlay, accepted until (unix s). */
  private readonly arrivals = new Map<string, { readonly underlay: string; readonly until: number }>();

  constructor(
    /** This host's underlay address, as tokens bind it. */
    private readonly underlay: string,
    private readonly keyOf: (vmId: string, keyId: number) => Uint8Array | undefined,
    /** Unix seconds now. */
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
    private readonly maxCached = 100_000,
    /** The longest lifetime a token may claim, with clock skew (seconds). */
    private readonly maxLifetimeS = 3660,
  ) {}

  /** Undefined when the packet may be delivered; otherwise why not. */
  check(dest: Destination, p: PacketToken): TokenRejection | undefined {
    if (dest.kind === 'local-other-vni') return 'wrong-vni';
    if (dest.kind === 'elsewhere') return 'wrong-host';
    if (p.token === undefined || p.keyId === undefined || p.token.length !== TOKEN_LENGTH) return 'missing';
    const now = this.now();
    if (p.expiry < now) return 'expired';
    if (p.expiry > now + this.maxLifetimeS) return 'expiry-too-far';
    if (this.voids.size > 0) {
      const upTo = this.voids.get(`${p.vni}/${p.src}/${p.dst}`);
      if (upTo !== undefined && p.expiry <= upTo) return 'revoked';
    }
    const key = this.keyOf(dest.vmId, p.keyId);
    const v = this.cache.get(p.vni)?.get(p.src)?.get(p.dst);
    if (v && key && v.key === key && v.vmId === dest.vmId && v.keyId === p.keyId && v.expiry === p.expiry && sameToken(v.token, p.token)) return undefined;
    if (!key) return 'unknown-key';
    const fields = { vni: p.vni, src: p.src, dst: p.dst, dstUnderlay: this.underlay, keyId: p.keyId, expiry: p.expiry };
    if (!tokenMatches(key, fields, p.token)) {
      // A VM that just moved here: tokens made for its source host still count for the grace
      // period (sent here by the source, or by senders that switched early).
      const moved = this.arrivals.size > 0 ? this.arrivals.get(dest.vmId) : undefined;
      if (!moved || now > moved.until || !tokenMatches(key, { ...fields, dstUnderlay: moved.underlay }, p.token)) return 'forged';
    }
    this.remember(p, dest.vmId, key);
    return undefined;
  }

  /**
   * {@link check} for a frame whose destination is local VM `vmId`, reading key id, expiry and
   * token in place from `bytes` at `at` (the token option's data): no object per packet on the
   * cached path, the one the data plane takes for every packet of a verified pair.
   */
  checkFrame(vmId: string, vni: number, src: number, dst: number, bytes: Uint8Array, at: number): TokenRejection | undefined {
    const keyId = ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
    const expiry = ((bytes[at + 4]! << 24) | (bytes[at + 5]! << 16) | (bytes[at + 6]! << 8) | bytes[at + 7]!) >>> 0;
    const now = this.now();
    const v = this.cache.get(vni)?.get(src)?.get(dst);
    if (v && v.keyId === keyId && v.expiry === expiry && v.vmId === vmId && expiry >= now && this.keyOf(vmId, keyId) === v.key) {
      let diff = 0;
      const t = v.token;
      for (let i = 0; i < TOKEN_LENGTH; i++) diff |= t[i]! ^ bytes[at + 8 + i]!;
      if (diff === 0) return undefined;
    }
    return this.check({ kind: 'local', vmId }, { vni, src, dst, keyId, expiry, token: bytes.subarray(at + 8, at + 8 + TOKEN_LENGTH) });
  }

  /**
   * The pair was revoked: its tokens expiring at or before `upTo` (unix s) are refused from
   * now on, a remembered one included. A token made after a new authorisation expires later
   * and checks as usual. Voids are forgotten once `upTo` has passed (no such token lives).
   */
  void(vni: number, src: number, dst: number, upTo: number): void {
    const now = this.now();
    if (upTo < now) return;
    for (const [k, t] of this.voids) if (t < now) this.voids.delete(k);
    const k = `${vni}/${src}/${dst}`;
    this.voids.set(k, Math.max(upTo, this.voids.get(k) ?? 0));
    const byDst = this.cache.get(vni)?.get(src);
    if (byDst?.delete(dst)) this.cached--;
  }

  /**
   * VM `vmId` moved here from the host at `fromUnderlay`: until `until` (unix s) a token made
   * for that address counts as one made for this host (the key it checks with is still the
   * VM's). After that, such tokens are `forged` again; remembered ones are forgotten.
   */
  acceptMoved(vmId: string, fromUnderlay: string, until: number): void {
    const now = this.now();
    for (const [vm, a] of this.arrivals) if (a.until < now) this.arrivals.delete(vm);
    if (until >= now) this.arrivals.set(vmId, { underlay: fromUnderlay, until });
  }

  /** The grace of a moved VM may be over: when it is, forget it and the tokens it let through. */
  endMoved(vmId: string): void {
    const a = this.arrivals.get(vmId);
    if (!a || a.until >= this.now()) return;
    this.arrivals.delete(vmId);
    this.clear();
  }

  /** Forgets every remembered token (after a key or policy change that must take effect at once). */
  clear(): void {
    this.cache.clear();
    this.cached = 0;
  }

  /** Remembered tokens. */
  size(): number {
    return this.cached;
  }

  private remember(p: PacketToken, vmId: string, key: Uint8Array): void {
    if (this.cached >= this.maxCached) this.clear(); // bounded: a flood of distinct pairs only costs HMACs
    let bySrc = this.cache.get(p.vni);
    if (!bySrc) this.cache.set(p.vni, (bySrc = new Map()));
    let byDst = bySrc.get(p.src);
    if (!byDst) bySrc.set(p.src, (byDst = new Map()));
    const had = byDst.get(p.dst);
    if (!had) this.cached++;
    byDst.set(p.dst, { keyId: p.keyId!, expiry: p.expiry, token: Uint8Array.from(p.token!), vmId, key });
  }
}
