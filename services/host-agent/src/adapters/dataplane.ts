/**
 * The host agent's userspace data plane (design.md, "The data plane").
 *
 * - One underlay UDP socket (`127.0.1.N:6081` on one machine) carries vnet Geneve frames
 *   between hosts.
 * - One VM port per local VM: a UDP socket on `vmPortHost` carrying raw IPv4 packets, one
 *   per datagram (what `socat TUN:… UDP:…` or a simulated VM sends). Where to deliver to the
 *   VM (its peer) is learned from the source of the packets it sends, or set with `attachVm`.
 *
 * Programmed through an idempotent `apply(desired)` (Tailscale's `router.Set` style): the
 * same desired state twice changes nothing (same ports, no socket re-opened); a changed one
 * opens/closes only the VM ports that differ and adds/removes/replaces only the routes that
 * differ. Applies are serialised.
 *
 * Packet path (no throw, every drop counted by reason):
 * - VM → network: inner IPv4 header must parse (`bad-inner`), its source must be the VM's IP
 *   (`spoofed-source`), its destination must be in the VM's VNI table (`no-route`); a local
 *   destination is delivered straight to that VM's port, a remote one gets the 36-byte vnet
 *   header and goes to the destination host's underlay address.
 * - underlay → VM: `scanVnetFrame` (`decodeVnetFrame`'s rules; each refusal counted by its
 *   reason), then the local VM with (VNI, inner destination) (`no-local-vm`), which must have
 *   a peer (`vm-not-attached`).
 * - With `tokens` (issue 4): a packet to a remote VM leaves only with its pair's header,
 *   token included. With no pair yet, the pair flow (`PairTable`) holds it in a small queue
 *   and asks `onPairMiss` for the pair once; `setPair` installs the token and sends what was
 *   held, `pairDenied` drops it (and new packets for a while), every second `tickPairs` asks
 *   again for pairs whose token is about to expire (renewal; the old token carries traffic
 *   meanwhile) and drops what unanswered requests held. A frame is delivered only when
 *   `TokenVerifier` accepts it (else `token-<reason>`, reported to `onRejected`).
 *   Without `tokens`, frames carry a zero token and are not checked.
 *
 * Addresses on the packet path are u32 numbers (no string per packet); headers are built
 * once per VNI at apply time and sent as `[header, packet]` (no copy of the packet). The
 * packet path allocates nothing of its own: headers are checked in place (`checkIpv4Header`,
 * `scanVnetFrame` into one reused record), never parsed into objects; what remains per packet
 * is Node's (the received Buffer, the send request, the view on the inner packet delivered).
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import {
  checkIpv4Header,
  encodeVnetHeader,
  ipv4DstAt,
  ipv4FromString,
  ipv4SrcAt,
  newVnetFrameInfo,
  scanVnetFrame,
  VNET_HEADER_LENGTH,
  VNET_TOKEN_LENGTH,
  type TokenOption,
} from '@vnet/geneve';
import type { Desired } from '../domain/desired';
import type { Tunnel } from '../domain/table';
import { PairTable, type PairActions, type PairDrop } from '../domain/pairs';
import { TokenVerifier, type Destination } from '../domain/verify';
import { bindUdp, closeUdp, parseHostPort, zeroCounters, type ApplyResult, type DataPlane, type DataPlaneOptions, type PairRoute } from './dataplane-types';

export * from './dataplane-types';

/** The token of frames sent without `tokens`: key 0, expiry 0, 16 zero bytes (never checked). */
const PLACEHOLDER_TOKEN: TokenOption = { keyId: 0, expiresAt: 0, token: new Uint8Array(VNET_TOKEN_LENGTH) };

interface VmPort {
  readonly vmId: string;
  vni: number;
  ip: string;
  ipNum: number;
  readonly socket: Socket;
  readonly port: number;
  peerHost: string | undefined;
  peerPort: number;
  pinned: boolean;
  /** Live migration: the VM moved here; called with the time of the first packet delivered to it. */
  arrival: ((atMs: number, dropped: number) => void) | undefined;
  /** Live migration: packets for the VM that came before it attached here (at most HOLD_FOR_MOVED). */
  held: Buffer[] | undefined;
  /** Live migration: packets for the VM dropped here before the first was delivered. */
  movedDrops: number;
}

/** How long frames for a VM whose port closed here are counted as lost for it (the switch's
 * grace period starts within this, or the VM did not move). */
const DEPARTED_MS = 10_000;

/** Frames for a VM whose port closed here that were dropped (live migration loss). */
interface Departed {
  readonly sinceMs: number;
  dropped: number;
}

/** Packets held for a VM that moved here, until it attaches (about a quarter second at 1,000/s). */
const HOLD_FOR_MOVED = 256;

/** Live migration, source side: where frames for a VM that left go during the grace period. */
interface Forward {
  readonly host: string;
  readonly port: number;
  readonly untilMs: number;
  forwarded: number;
  /** Frames dropped for the VM since its port closed here. */
  dropped: number;
  readonly ended: (forwarded: number, dropped: number) => void;
}

interface Route {
  /** The key in the desired tunnel table (dotted quad). */
  readonly ip: string;
  readonly entry: Tunnel;
  /** The destination runs on this host: deliver to its VM port. */
  readonly local: boolean;
  readonly host: string;
  readonly port: number;
  /** The 36-byte vnet header for this route's VNI (shared per VNI). */
  readonly header: Buffer;
}

/** Binds the underlay socket and returns a data plane with no VM and no route. */
export async function createDataPlane(opts: DataPlaneOptions): Promise<DataPlane> {
  const addr = parseHostPort(opts.underlay);
  if (!addr) throw new Error(`dataplane: bad underlay address ${opts.underlay}`);
  const vmPortHost = opts.vmPortHost ?? '127.0.0.1';
  const fixedPorts = opts.vmPorts ?? {};
  const c = zeroCounters();
  const drops = c.drops;
  const vms = new Map<string, VmPort>();
  /** (VNI, u32 IP) → local VM, for delivery. */
  const localByVni = new Map<number, Map<number, VmPort>>();
  /** (VNI, u32 IP) → route, for forwarding. */
  const routes = new Map<number, Map<number, Route>>();
  const headers = new Map<number, Buffer>();
  /** Tokens on: (VNI, src, dst) → the pair's header (with its token), destination, expiry (ms), and whether it carried a packet since its token came. */
  const pairs = new Map<number, Map<number, Map<number, { header: Buffer; host: string; port: number; expiresMs: number; used: boolean }>>>();
  let closed = false;
  let chain: Promise<unknown> = Promise.resolve();
  /** Live migration, source side: (VNI, u32 IP) of VMs that left → where to forward their frames. */
  const forwards = new Map<number, Map<number, Forward>>();
  /** Live migration, target side: VMs moving here whose port is not open yet → their arrival
   * callback and the packets (checked) that came for them meanwhile. */
  const pendingArrivals = new Map<string, { readonly vni: number; readonly ip: number; readonly arrived: (atMs: number, dropped: number) => void; readonly held: Buffer[]; dropped: number }>();
  /** Live migration, source side: (VNI, u32 IP) of VMs whose port closed here lately → frames dropped for them since. */
  const departed = new Map<number, Map<number, Departed>>();
  /** The same, by (VNI, u32 IP). */
  const pendingByAddress = new Map<number, Map<number, string>>();

  const underlaySocket = await bindUdp(addr.host, addr.port);
  const bound = underlaySocket.address();
  const tokens = opts.tokens;
  const verifier = tokens ? new TokenVerifier(`${bound.address}:${bound.port}`, tokens.keyOf, tokens.now, undefined, tokens.maxLifetimeS) : undefined;
  /** The pair flow's state (source side): held packets, outstanding requests, denials. */
  const pairFlow = tokens?.onPairMiss ? new PairTable<Buffer>(tokens.pairOptions) : undefined;
  const injected = tokens?.now;
  const nowMs: () => number = injected ? () => injected() * 1000 : Date.now;
  const onSendError = (): void => {
    drops['send-error']++;
  };
  underlaySocket.on('error', onSendError);

  const headerFor = (vni: number): Buffer => {
    let h = headers.get(vni);
    if (!h) {
      h = Buffer.alloc(VNET_HEADER_LENGTH);
      encodeVnetHeader(vni, PLACEHOLDER_TOKEN, h, 0);
      headers.set(vni, h);
    }
    return h;
  };

  /** Sends `bytes[offset..]` to the VM's peer. */
  const deliver = (vm: VmPort, bytes: Buffer, offset: number): void => {
    if (vm.peerHost === undefined) {
      // A VM moving here by live migration: hold what comes before it attaches.
      if (vm.arrival !== undefined && (vm.held ??= []).length < HOLD_FOR_MOVED) vm.held.push(offset === 0 ? bytes : bytes.subarray(offset));
      else {
        drops['vm-not-attached']++;
        if (vm.arrival !== undefined) vm.movedDrops++;
      }
      return;
    }
    c.vmTxPackets++;
    c.vmTxBytes += bytes.length - offset;
    vm.socket.send(offset === 0 ? bytes : bytes.subarray(offset), vm.peerPort, vm.peerHost);
    if (vm.arrival !== undefined) {
      const arrived = vm.arrival;
      vm.arrival = undefined;
      arrived(Date.now(), vm.movedDrops);
    }
  };

  /** The VM attached: what was held for it goes out, in order. */
  const releaseHeld = (vm: VmPort): void => {
    const held = vm.held ?? [];
    vm.held = undefined;
    for (const p of held) deliver(vm, p, 0);
  };

  /** Ends the forwarding of (vni, ip): reports what was forwarded. */
  const endForward = (vni: number, ip: number): void => {
    const m = forwards.get(vni);
    const f = m?.get(ip);
    if (!m || !f) return;
    m.delete(ip);
    if (m.size === 0) forwards.delete(vni);
    f.ended(f.forwarded, f.dropped + (takeDeparted(vni, ip)?.dropped ?? 0));
  };
  /** Forgets (and returns) the loss count of a VM that left. */
  const takeDeparted = (vni: number, ip: number): Departed | undefined => {
    const m = departed.get(vni);
    const d = m?.get(ip);
    if (!d) return undefined;
    m!.delete(ip);
    if (m!.size === 0) departed.delete(vni);
    return d;
  };
  /** Forgets the VMs that left longer ago than DEPARTED_MS. */
  const forgetDeparted = (): void => {
    const old = Date.now() - DEPARTED_MS;
    for (const [vni, m] of departed) {
      for (const [ip, d] of m) if (d.sinceMs < old) m.delete(ip);
      if (m.size === 0) departed.delete(vni);
    }
  };
  /** A frame for (vni, ip) was dropped here: counted against the VM if it left lately. */
  const lostForDeparted = (vni: number, ip: number): void => {
    const d = departed.get(vni)?.get(ip);
    if (!d) return;
    if (Date.now() - d.sinceMs > DEPARTED_MS) takeDeparted(vni, ip);
    else d.dropped++;
  };
  /** Live migration, source side: sends a frame for a VM that left on to its new host. */
  const forwarded = (vni: number, ip: number, msg: Buffer): boolean => {
    const f = forwards.get(vni)?.get(ip);
    if (!f) return false;
    if (Date.now() >= f.untilMs) {
      endForward(vni, ip);
      return false;
    }
    f.forwarded++;
    c.forwardedPackets++;
    c.underlayTxPackets++;
    c.underlayTxBytes += msg.length;
    underlaySocket.send(msg, f.port, f.host);
    return true;
  };

  const fromVm = (vm: VmPort, msg: Buffer, rinfo: RemoteInfo): void => {
    c.vmRxPackets++;
    c.vmRxBytes += msg.length;
    if (!vm.pinned && (vm.peerPort !== rinfo.port || vm.peerHost !== rinfo.address)) {
      vm.peerHost = rinfo.address;
      vm.peerPort = rinfo.port;
      if (vm.held) releaseHeld(vm);
    }
    if (checkIpv4Header(msg, 0) !== undefined) {
      drops['bad-inner']++;
      return;
    }
    if (ipv4SrcAt(msg, 0) !== vm.ipNum) {
      drops['spoofed-source']++;
      return;
    }
    const dst = ipv4DstAt(msg, 0);
    const route = routes.get(vm.vni)?.get(dst);
    if (!route) {
      drops['no-route']++;
      return;
    }
    if (route.local) {
      const target = localByVni.get(vm.vni)?.get(dst);
      if (!target) {
        drops['no-local-vm']++;
        return;
      }
      c.localPackets++;
      deliver(target, msg, 0);
      return;
    }
    if (tokens) {
      const pair = pairs.get(vm.vni)?.get(vm.ipNum)?.get(dst);
      if (!pair || pair.expiresMs <= nowMs()) {
        if (!pairFlow) {
          drops['no-pair']++;
          return;
        }
        // Held until the token comes (the received Buffer is this packet's own: no copy).
        act(pairFlow.miss({ vni: vm.vni, src: vm.ipNum, dst }, msg, nowMs()), vm.vmId, false);
        return;
      }
      pair.used = true;
      c.underlayTxPackets++;
      c.underlayTxBytes += VNET_HEADER_LENGTH + msg.length;
      underlaySocket.send([pair.header, msg], pair.port, pair.host);
      return;
    }
    c.underlayTxPackets++;
    c.underlayTxBytes += VNET_HEADER_LENGTH + msg.length;
    underlaySocket.send([route.header, msg], route.port, route.host);
  };

  /** Carries out what the pair table said: drop some packets, ask for a pair (held packets
   * are sent by `setPair`, which has the new header). */
  const act = (a: PairActions<Buffer>, srcVmId: string, renewal: boolean): void => {
    if (a.drop) drops[`pair-${a.drop.reason}` as `pair-${PairDrop}`] += a.drop.packets.length;
    if (a.request) {
      c.pairRequests++;
      tokens?.onPairMiss?.({ vni: a.request.vni, srcVmId, src: a.request.src, dst: a.request.dst, renewal });
    }
  };
  const dropPair = (vni: number, src: number, dst: number): void => {
    const bySrc = pairs.get(vni);
    const byDst = bySrc?.get(src);
    if (!byDst?.delete(dst)) return;
    if (byDst.size === 0) bySrc!.delete(src);
    if (bySrc!.size === 0) pairs.delete(vni);
  };

  /** Tokens on: where a frame's destination is, for the verifier. */
  const destinationOf = (vni: number, dst: number): Destination => {
    const vm = localByVni.get(vni)?.get(dst);
    if (vm) return { kind: 'local', vmId: vm.vmId };
    for (const [other, m] of localByVni) if (other !== vni && m.has(dst)) return { kind: 'local-other-vni' };
    return { kind: 'elsewhere' };
  };

  /** The frame being handled (reused: the handler runs to completion, one frame at a time). */
  const frame = newVnetFrameInfo();
  const fromUnderlay = (msg: Buffer): void => {
    c.underlayRxPackets++;
    c.underlayRxBytes += msg.length;
    const refused = scanVnetFrame(msg, frame);
    if (refused !== undefined) {
      drops[refused]++;
      return;
    }
    const vm = localByVni.get(frame.vni)?.get(frame.innerDst);
    // A VM that left by live migration: the frame goes on to its new host as it came (that
    // host checks its token), for the grace period.
    if (!vm && forwards.size > 0 && forwarded(frame.vni, frame.innerDst, msg)) return;
    // A VM moving here whose port is not open yet: checked, then held for it.
    if (!vm && pendingByAddress.size > 0) {
      const vmId = pendingByAddress.get(frame.vni)?.get(frame.innerDst);
      const pending = vmId === undefined ? undefined : pendingArrivals.get(vmId);
      if (vmId !== undefined && pending) {
        const refused = verifier?.checkFrame(vmId, frame.vni, frame.innerSrc, frame.innerDst, msg, frame.tokenOffset);
        if (refused !== undefined) {
          drops[`token-${refused}`]++;
          pending.dropped++;
        } else if (pending.held.length < HOLD_FOR_MOVED) pending.held.push(msg.subarray(frame.innerOffset));
        else {
          drops['vm-not-attached']++;
          pending.dropped++;
        }
        return;
      }
    }
    if (verifier) {
      const t = frame.tokenOffset;
      const refused = vm
        ? verifier.checkFrame(vm.vmId, frame.vni, frame.innerSrc, frame.innerDst, msg, t)
        : verifier.check(destinationOf(frame.vni, frame.innerDst), {
            vni: frame.vni,
            src: frame.innerSrc,
            dst: frame.innerDst,
            keyId: msg.readUInt32BE(t),
            expiry: msg.readUInt32BE(t + 4),
            token: msg.subarray(t + 8, t + 8 + VNET_TOKEN_LENGTH),
          });
      if (refused !== undefined) {
        drops[`token-${refused}`]++;
        if (vm?.arrival !== undefined) vm.movedDrops++;
        else if (!vm && departed.size > 0) lostForDeparted(frame.vni, frame.innerDst);
        tokens?.onRejected?.(refused, frame.vni, frame.innerSrc, frame.innerDst, msg.readUInt32BE(t));
        return;
      }
    }
    // Without tokens any well-formed frame for a local VM is delivered (the behaviour before
    // issue 4); with them, only one whose token checked.
    if (!vm) {
      drops['no-local-vm']++;
      if (departed.size > 0) lostForDeparted(frame.vni, frame.innerDst);
      return;
    }
    // The inner packet with any bytes after it (decodeVnetFrame's `geneve.payload`).
    deliver(vm, msg, frame.innerOffset);
  };
  underlaySocket.on('message', fromUnderlay);
  const ticker = pairFlow ? setInterval(() => closed || dataPlane.tickPairs(), 1000) : undefined;
  ticker?.unref();

  const index = (vm: VmPort): void => {
    let m = localByVni.get(vm.vni);
    if (!m) localByVni.set(vm.vni, (m = new Map()));
    m.set(vm.ipNum, vm);
  };
  const unindex = (vm: VmPort): void => {
    const m = localByVni.get(vm.vni);
    if (m?.get(vm.ipNum) !== vm) return;
    m.delete(vm.ipNum);
    if (m.size === 0) localByVni.delete(vm.vni);
  };

  const openVm = async (vmId: string, vni: number, ip: string, ipNum: number): Promise<VmPort> => {
    const socket = await bindUdp(vmPortHost, fixedPorts[vmId] ?? 0);
    const pending = pendingArrivals.get(vmId);
    const vm: VmPort = {
      vmId,
      vni,
      ip,
      ipNum,
      socket,
      port: socket.address().port,
      peerHost: undefined,
      peerPort: 0,
      pinned: false,
      arrival: pending?.arrived,
      held: pending?.held.length ? pending.held : undefined,
      movedDrops: pending?.dropped ?? 0,
    };
    if (pending) {
      pendingArrivals.delete(vmId);
      pendingByAddress.get(pending.vni)?.delete(pending.ip);
      if (pendingByAddress.get(pending.vni)?.size === 0) pendingByAddress.delete(pending.vni);
    }
    socket.on('error', onSendError);
    socket.on('message', (msg, rinfo) => fromVm(vm, msg, rinfo));
    return vm;
  };

  async function applyNow(desired: Desired): Promise<ApplyResult> {
    if (closed) throw new Error('dataplane: closed');
    const r = { vmsAdded: [] as string[], vmsRemoved: [] as string[], vmsChanged: [] as string[], routesAdded: 0, routesRemoved: 0, routesChanged: 0 };
    const failed: Array<{ id: string; error: string }> = [];

    // Routes: synchronous, only the differences.
    for (const [vni, m] of routes) {
      const want = desired.tunnels.get(vni);
      for (const [ipNum, route] of m) {
        if (!want?.has(route.ip)) {
          m.delete(ipNum);
          r.routesRemoved++;
        }
      }
      if (m.size === 0) {
        routes.delete(vni);
        headers.delete(vni);
      }
    }
    for (const [vni, want] of desired.tunnels) {
      if (!Number.isInteger(vni) || vni < 0 || vni > 0xffffff) {
        failed.push({ id: `vni ${vni}`, error: 'bad VNI' });
        continue;
      }
      for (const [ip, entry] of want) {
        const ipNum = ipv4FromString(ip);
        if (ipNum === undefined) {
          failed.push({ id: `${vni}/${ip}`, error: 'bad IP' });
          continue;
        }
        const existing = routes.get(vni)?.get(ipNum);
        if (existing && existing.ip === ip && sameTunnel(existing.entry, entry)) continue;
        const local = entry.hostId === opts.hostId;
        const to = parseHostPort(entry.underlay);
        if (!local && !to) {
          failed.push({ id: `${vni}/${ip}`, error: `bad underlay ${entry.underlay}` });
          if (existing) {
            routes.get(vni)!.delete(ipNum);
            r.routesRemoved++;
          }
          continue;
        }
        let m = routes.get(vni);
        if (!m) routes.set(vni, (m = new Map()));
        m.set(ipNum, { ip, entry, local, host: to?.host ?? '', port: to?.port ?? 0, header: headerFor(vni) });
        if (existing) r.routesChanged++;
        else r.routesAdded++;
      }
    }

    // VM ports: close the removed ones, re-index the changed ones, open the new ones.
    const wanted = new Map(desired.vms.map((v) => [v.vmId, v]));
    const closing: Promise<void>[] = [];
    if (departed.size > 0) forgetDeparted();
    for (const [vmId, vm] of vms) {
      if (wanted.has(vmId)) continue;
      vms.delete(vmId);
      unindex(vm);
      closing.push(closeUdp(vm.socket));
      r.vmsRemoved.push(vmId);
      // What still comes for it is counted as lost for it, should it be moving away.
      let d = departed.get(vm.vni);
      if (!d) departed.set(vm.vni, (d = new Map()));
      d.set(vm.ipNum, { sinceMs: Date.now(), dropped: 0 });
    }
    const opening: Promise<void>[] = [];
    for (const { vmId, vni, ip } of wanted.values()) {
      const ipNum = ipv4FromString(ip);
      if (ipNum === undefined || !Number.isInteger(vni) || vni < 0 || vni > 0xffffff) {
        failed.push({ id: vmId, error: `bad VM address ${vni}/${ip}` });
        continue;
      }
      const vm = vms.get(vmId);
      if (vm) {
        if (vm.vni === vni && vm.ipNum === ipNum) continue;
        unindex(vm);
        vm.vni = vni;
        vm.ip = ip;
        vm.ipNum = ipNum;
        index(vm);
        r.vmsChanged.push(vmId);
        continue;
      }
      opening.push(
        openVm(vmId, vni, ip, ipNum).then(
          (opened) => {
            if (closed) return closeUdp(opened.socket);
            vms.set(vmId, opened);
            index(opened);
            takeDeparted(vni, ipNum);
            r.vmsAdded.push(vmId);
          },
          (e: unknown) => {
            failed.push({ id: vmId, error: e instanceof Error ? e.message : String(e) });
          },
        ),
      );
    }
    await Promise.all([...closing, ...opening]);
    r.vmsAdded.sort();
    const changed = r.vmsAdded.length + r.vmsRemoved.length + r.vmsChanged.length + r.routesAdded + r.routesRemoved + r.routesChanged > 0;
    return { ...r, failed, changed };
  }

  const dataPlane: DataPlane = {
    hostId: opts.hostId,
    underlay: `${bound.address}:${bound.port}`,
    apply(desired) {
      const next = chain.then(() => applyNow(desired));
      chain = next.catch(() => undefined);
      return next;
    },
    attachVm(vmId, peer) {
      const vm = vms.get(vmId);
      if (!vm) throw new Error(`dataplane: no VM port for ${vmId}`);
      const p = parseHostPort(peer);
      if (!p || p.port === 0) throw new Error(`dataplane: bad peer address ${peer}`);
      vm.peerHost = p.host;
      vm.peerPort = p.port;
      vm.pinned = true;
      if (vm.held) releaseHeld(vm);
    },
    vmPorts() {
      return [...vms.values()]
        .map((v) => ({ vmId: v.vmId, vni: v.vni, ip: v.ip, port: v.port, ...(v.peerHost === undefined ? {} : { peer: `${v.peerHost}:${v.peerPort}` }) }))
        .sort((a, b) => (a.vmId < b.vmId ? -1 : a.vmId > b.vmId ? 1 : 0));
    },
    setPair(vni: number, src: number, dst: number, route: PairRoute | undefined) {
      if (!route) {
        dropPair(vni, src, dst);
        if (pairFlow) act(pairFlow.revoked({ vni, src, dst }), '', false);
        return;
      }
      const to = parseHostPort(route.dstUnderlay);
      if (!to) throw new Error(`dataplane: bad pair destination ${route.dstUnderlay}`);
      // An older token (a late answer) never replaces a newer one.
      const current = pairs.get(vni)?.get(src)?.get(dst);
      if (current && current.expiresMs > route.expiry * 1000) return;
      const header = Buffer.alloc(VNET_HEADER_LENGTH);
      encodeVnetHeader(vni, { keyId: route.keyId, expiresAt: route.expiry, token: route.token }, header, 0);
      let bySrc = pairs.get(vni);
      if (!bySrc) pairs.set(vni, (bySrc = new Map()));
      let byDst = bySrc.get(src);
      if (!byDst) bySrc.set(src, (byDst = new Map()));
      const pair = { header, host: to.host, port: to.port, expiresMs: route.expiry * 1000, used: false };
      byDst.set(dst, pair);
      c.pairTokens++;
      const held = pairFlow?.token({ vni, src, dst }, route, nowMs()).send?.packets ?? [];
      for (const msg of held) {
        pair.used = true;
        c.pairReleased++;
        c.underlayTxPackets++;
        c.underlayTxBytes += VNET_HEADER_LENGTH + msg.length;
        underlaySocket.send([header, msg], pair.port, pair.host);
      }
    },
    forwardMoved(m, ended) {
      const to = parseHostPort(m.toUnderlay);
      if (!to) throw new Error(`dataplane: bad forwarding address ${m.toUnderlay}`);
      let byIp = forwards.get(m.vni);
      if (!byIp) forwards.set(m.vni, (byIp = new Map()));
      if (byIp.has(m.ip)) return; // the same move again (a replayed event)
      byIp.set(m.ip, { host: to.host, port: to.port, untilMs: m.untilMs, forwarded: 0, dropped: takeDeparted(m.vni, m.ip)?.dropped ?? 0, ended });
      // Ends on time even when nothing comes (a frame after the end ends it too).
      setTimeout(() => endForward(m.vni, m.ip), Math.max(0, m.untilMs - Date.now())).unref();
    },
    receiveMoved(m, arrived) {
      const until = Math.ceil(m.untilMs / 1000);
      verifier?.acceptMoved(m.vmId, m.fromUnderlay, until);
      setTimeout(() => verifier?.endMoved(m.vmId), Math.max(0, m.untilMs - Date.now()) + 1000).unref();
      if (!arrived) return;
      const vm = vms.get(m.vmId);
      if (vm) vm.arrival ??= arrived;
      else if (!pendingArrivals.has(m.vmId)) {
        pendingArrivals.set(m.vmId, { vni: m.vni, ip: m.ip, arrived, held: [], dropped: 0 });
        let byIp = pendingByAddress.get(m.vni);
        if (!byIp) pendingByAddress.set(m.vni, (byIp = new Map()));
        byIp.set(m.ip, m.vmId);
      }
    },
    voidTokens(vni, src, dst, upTo) {
      verifier?.void(vni, src, dst, upTo);
    },
    pairDenied(vni, src, dst) {
      dropPair(vni, src, dst);
      if (pairFlow) act(pairFlow.denied({ vni, src, dst }, nowMs()), '', false);
    },
    tickPairs(now = nowMs()) {
      if (!pairFlow) return;
      // Renewed only when it carried a packet since its token came: an idle pair expires.
      const { requests, drops: dropped } = pairFlow.tick(now, (k) => pairs.get(k.vni)?.get(k.src)?.get(k.dst)?.used === true);
      for (const d of dropped) drops[`pair-${d.reason}`] += d.packets.length;
      for (const k of requests) {
        // A renewal only for a source VM still here; otherwise the pair goes.
        const vm = localByVni.get(k.vni)?.get(k.src);
        if (vm) act({ request: k }, vm.vmId, true);
        else {
          dropPair(k.vni, k.src, k.dst);
          pairFlow.revoked(k);
        }
      }
    },
    pairCount() {
      let n = 0;
      for (const bySrc of pairs.values()) for (const byDst of bySrc.values()) n += byDst.size;
      return n;
    },
    counters() {
      return { ...c, drops: { ...drops } };
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(ticker);
      await chain;
      forwards.clear();
      departed.clear();
      pendingArrivals.clear();
      pendingByAddress.clear();
      const all = [underlaySocket, ...[...vms.values()].map((v) => v.socket)];
      vms.clear();
      localByVni.clear();
      routes.clear();
      await Promise.all(all.map(closeUdp));
    },
  };
  return dataPlane;
}

const sameTunnel = (a: Tunnel, b: Tunnel): boolean => a.vmId === b.vmId && a.hostId === b.hostId && a.underlay === b.underlay;
