/**
 * The data plane's public types, drop reasons, counters and small UDP helpers
 * (re-exported by `dataplane.ts`; kept apart so the adapter stays short).
 */
import dgram, { type Socket } from 'node:dgram';
import { DECODE_REASONS } from '@vnet/geneve';
import type { Desired } from '../domain/desired';
import type { PairOptions } from '../domain/pairs';

/** Every reason the data plane drops a packet for: the frame decoder's, then its own. */
export const DATAPLANE_DROP_REASONS = [
  ...DECODE_REASONS,
  /** A VM sent something that is not a well-formed IPv4 packet. */
  'bad-inner',
  /** A VM sent a packet whose source is not its own virtual IP. */
  'spoofed-source',
  /** No tunnel entry for the destination in the sender's VNI. */
  'no-route',
  /** No local VM with that (VNI, destination IP). */
  'no-local-vm',
  /** The destination VM's port has no known peer yet (it never sent, nor was attached). */
  'vm-not-attached',
  /** A socket reported an error sending. */
  'send-error',
  /** Tokens on, no `onPairMiss`: a packet to a remote VM with no pair (no token) yet. */
  'no-pair',
  /** Pair flow: the pair was denied (or is cached as denied); held and new packets dropped. */
  'pair-denied',
  /** Pair flow: the pair's hold queue was full while its token was awaited. */
  'pair-queue-full',
  /** Pair flow: no answer to the pair request in time; what was held is dropped. */
  'pair-request-timeout',
  /** Pair flow: the pair was revoked while packets were held for it. */
  'pair-revoked',
  /** Tokens on: refused at the destination, by `TokenVerifier` reason. */
  'token-missing',
  'token-forged',
  'token-expired',
  'token-expiry-too-far',
  'token-revoked',
  'token-wrong-host',
  'token-wrong-vni',
  'token-unknown-key',
] as const;
export type DropReason = (typeof DATAPLANE_DROP_REASONS)[number];

/** Counters since start; `counters()` returns a snapshot. */
export interface DataPlaneCounters {
  /** Packets (and bytes) received from local VMs on their ports. */
  vmRxPackets: number;
  vmRxBytes: number;
  /** Packets (and bytes) delivered to local VMs (from the underlay or another local VM). */
  vmTxPackets: number;
  vmTxBytes: number;
  /** Frames (and bytes, Geneve header included) received on the underlay. */
  underlayRxPackets: number;
  underlayRxBytes: number;
  /** Frames (and bytes, Geneve header included) sent on the underlay. */
  underlayTxPackets: number;
  underlayTxBytes: number;
  /** Packets between two VMs of this host (delivered without the underlay). */
  localPackets: number;
  /** Pair flow: requests asked for (first packets and renewals), tokens installed, packets held then sent. */
  pairRequests: number;
  pairTokens: number;
  pairReleased: number;
  /** Live migration: frames for VMs that left, sent on to their new host. */
  forwardedPackets: number;
  drops: Record<DropReason, number>;
}

export interface DataPlaneOptions {
  readonly hostId: string;
  /** Underlay address to bind, `ip:port` (port 0: an ephemeral port, see `underlay`). */
  readonly underlay: string;
  /** Address VM ports bind on (default 127.0.0.1). */
  readonly vmPortHost?: string;
  /** Fixed VM port numbers by VM id (others get an ephemeral port). */
  readonly vmPorts?: Readonly<Record<string, number>>;
  /**
   * Pair tokens: when given, a packet to a remote VM leaves only
   * with the token of its pair (`setPair`), and a frame is delivered only when its token
   * checks against the destination VM's key. Without it, frames carry a zero token and are
   * not checked (the behaviour before tokens).
   */
  readonly tokens?: {
    /** The destination VM's key `keyId`, if this host holds it. */
    readonly keyOf: (vmId: string, keyId: number) => Uint8Array | undefined;
    /** Unix seconds now (default: the clock). */
    readonly now?: () => number;
    /** Tokens expiring later than now + this are refused (`expiry-too-far`; default 3,660 s). */
    readonly maxLifetimeS?: number;
    /** Each refused frame (for sampled TokenRejected events). */
    readonly onRejected?: (reason: string, vni: number, src: number, dst: number, keyId: number) => void;
    /**
     * The pair flow (source side): called when a pair must be asked for — once for a first
     * packet (later ones are held meanwhile), again after a request timed out, and before the
     * token expires (renewal). The answer comes back through `setPair` / `pairDenied`.
     * Without it a packet with no pair is dropped as `no-pair`.
     */
    readonly onPairMiss?: (request: PairRequest) => void;
    /** Hold queue per pair, negative cache, request timeout, renewal margin. */
    readonly pairOptions?: PairOptions;
  };
}

/** A pair the data plane needs a token for. */
export interface PairRequest {
  readonly vni: number;
  readonly srcVmId: string;
  /** Addresses as u32. */
  readonly src: number;
  readonly dst: number;
  /** A renewal of an installed pair (not a first packet). */
  readonly renewal: boolean;
}

/** What the source host sends a pair's packets with. */
export interface PairRoute {
  readonly dstUnderlay: string;
  readonly keyId: number;
  /** Unix seconds. */
  readonly expiry: number;
  readonly token: Uint8Array;
}

export interface VmPortInfo {
  readonly vmId: string;
  readonly vni: number;
  readonly ip: string;
  readonly port: number;
  /** Where packets for the VM go, `host:port`, once known. */
  readonly peer?: string;
}

/** What an `apply` changed; all empty/zero when the state was already the desired one. */
export interface ApplyResult {
  readonly vmsAdded: string[];
  readonly vmsRemoved: string[];
  /** VMs whose VNI or IP changed (their port and peer are kept). */
  readonly vmsChanged: string[];
  readonly routesAdded: number;
  readonly routesRemoved: number;
  readonly routesChanged: number;
  /** Entries that could not be applied (bad IP or underlay, port bind failure); retried by the next apply. */
  readonly failed: Array<{ readonly id: string; readonly error: string }>;
  readonly changed: boolean;
}

export interface DataPlane {
  readonly hostId: string;
  /** The bound underlay address, `ip:port` (the actual port when 0 was asked for). */
  readonly underlay: string;
  apply(desired: Desired): Promise<ApplyResult>;
  /** Sets (and pins: no more learning) where the VM's packets are delivered. Throws on an unknown VM or a bad address. */
  attachVm(vmId: string, peer: string): void;
  vmPorts(): VmPortInfo[];
  /**
   * Tokens on: installs the pair (VNI, source, destination as u32) and sends what was held
   * for it, in order; with undefined, removes it (a revocation: held packets dropped).
   */
  setPair(vni: number, src: number, dst: number, route: PairRoute | undefined): void;
  /**
   * Live migration, source side: VM (`vni`, `ip` as u32) left this host for `toUnderlay`.
   * Frames for it that still come here are sent on there, unchanged, until `untilMs` (unix
   * ms); then `ended` gets how many were, and how many frames for it this host dropped
   * since its port closed here (before the forwarding started).
   */
  forwardMoved(m: { readonly vni: number; readonly ip: number; readonly toUnderlay: string; readonly untilMs: number }, ended: (forwarded: number, dropped: number) => void): void;
  /**
   * Live migration, target side: VM `vmId` moves here from the host at `fromUnderlay`. Until
   * `untilMs` (the latest call sets it) its tokens made for that host count here too; packets
   * for it (`vni`, `ip` as u32) that come before its port is open or it attaches are held;
   * `arrived` (of the first call that gives one) gets the time of the first packet delivered
   * to it and how many packets for it were dropped before (hold full, token refused).
   */
  receiveMoved(m: { readonly vmId: string; readonly vni: number; readonly ip: number; readonly fromUnderlay: string; readonly untilMs: number }, arrived?: (atMs: number, dropped: number) => void): void;
  /** Tokens on, destination side: the pair was revoked; its tokens expiring up to `upTo` (unix s) are refused. */
  voidTokens(vni: number, src: number, dst: number, upTo: number): void;
  /** Tokens on: the pair was denied: held packets dropped, new ones too for a while. */
  pairDenied(vni: number, src: number, dst: number): void;
  /** Pair housekeeping (renewals, request timeouts); runs every second on its own, exposed for tests. */
  tickPairs(nowMs?: number): void;
  /** Installed pairs (with a token). */
  pairCount(): number;
  counters(): DataPlaneCounters;
  close(): Promise<void>;
}

/** `host:port` → parts; undefined when the port is missing or out of range. */
export function parseHostPort(s: string): { host: string; port: number } | undefined {
  const i = s.lastIndexOf(':');
  if (i <= 0) return undefined;
  const host = s.slice(0, i);
  const port = Number(s.slice(i + 1));
  if (!/^\d+$/.test(s.slice(i + 1)) || port > 65535) return undefined;
  return { host, port };
}

export const bindUdp = (host: string, port: number): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const onError = (e: Error): void => {
      s.close();
      reject(e);
    };
    s.once('error', onError);
    s.bind(port, host, () => {
      s.off('error', onError);
      resolve(s);
    });
  });

export const closeUdp = (s: Socket): Promise<void> =>
  new Promise((resolve) => {
    try {
      s.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });

export const zeroCounters = (): DataPlaneCounters => ({
  vmRxPackets: 0,
  vmRxBytes: 0,
  vmTxPackets: 0,
  vmTxBytes: 0,
  underlayRxPackets: 0,
  underlayRxBytes: 0,
  underlayTxPackets: 0,
  underlayTxBytes: 0,
  localPackets: 0,
  pairRequests: 0,
  pairTokens: 0,
  pairReleased: 0,
  forwardedPackets: 0,
  drops: Object.fromEntries(DATAPLANE_DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
});
