/**
 * `npm run bench -- host-agent`: the host agent's control-plane and data-plane figures, each
 * against a baseline measured in the same run.
 *
 *  1. rebuild:  a cold start of one host agent (startFollowing, no snapshot) over N
 *               VmMappingAdded events spread over K VNIs it serves (one HostVmAttached per
 *               VNI), until its tables hold N entries. Baseline: an ordered consumer over
 *               `vnet.evt.vni.>` counting the same N messages (measured before and after the
 *               rebuild; the ratio uses their mean). Both run in a fresh child process each
 *               (hostAgentChild.ts), so the peak RSS is the agent's own (sampled every 50 ms,
 *               and the kernel's high-water mark) and both start with a cold JIT.
 *  2. restart:  the rebuilt agent saves a snapshot (follower.snapshot()), T more mappings are
 *               appended, then a restart from the snapshot vs a full replay (useSnapshot:false),
 *               each in a fresh child, until N+T entries; the two table hashes must be equal.
 *  3. latency:  A followers in this process (one connection, each with its own readAll
 *               consumers: hostvms.<host> and vni.<vni>), all serving one VNI; M mappings
 *               appended one at a time through the store; for each, the time from just before
 *               appendToStream to when all A followers' tables hold it (per-follower `until`).
 *  4. forward:  two data planes (createDataPlane) in two child processes, one per host, on
 *               127.0.1.61 and 127.0.1.62, one simulated VM each (programmed with apply), and
 *               a sender here blasting P small IPv4-in-UDP packets VM A → VM B in bounded
 *               bursts; a receiver here (VM B's peer) counts them. Baseline (the target's):
 *               two plain Node UDP relays in a row, each in a child process (127.0.1.64 →
 *               127.0.1.65), two process hops like the data plane's; a one-hop relay
 *               (127.0.1.63) is reported for reference. Same sender and receiver for all.
 *               Rate = packets received / (last received - first sent); R runs per side,
 *               interleaved, medians. A third side runs the same path with tokens on
 *               (127.0.1.66 → 127.0.1.67): the pair installed with a valid token, every
 *               frame checked at B; the token target compares it with the data plane without.
 *
 * Events are written with raw `js.publish` (a window of publishes in flight, bytes of valid
 * catalogue events built from a template and checked once with the validating codec).
 * Starts its own nats-server (temp store) unless NATS_URL is set (then --reset-log is needed:
 * VNET_EVENTS is deleted and re-created). Prints a table; exits 0 even when a target is missed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import dgram, { type Socket } from 'node:dgram';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import * as E from 'fp-ts/lib/Either.js';
import { domainEventCodec, streamNameOf, type DomainEvent } from '@vnet/events';
import { ANY, EventStore } from '@vnet/eventstore';
import { internetChecksum, ipv4FromString, IP_PROTOCOL } from '@vnet/geneve';
import { startNatsServer, type RunningNatsServer } from '@vnet/natsd';
import { mintToken } from '@vnet/tokens';
import { EVENTS_STREAM } from '@vnet/topology';
import { startFollowing, type Follower } from '../../services/host-agent/src/adapters/follow';
import type { ChildJob, DpCommand, MeasureResult, WireDesired } from './hostAgentChild';
import { benchEvent } from './report';
import { UsageError, parseBenchOptions } from './options';

const LOG = EVENTS_STREAM.name;
const REBUILD_HOST = 'bench-h1';
const FIRST_VNI = 1001;
const LATENCY_VNI = 9001;
const FORWARD_VNI = 7001;
const MIB = 1024 * 1024;

const TARGET = { rebuildRatio: 0.7, rssMiB: 512, speedup: 10, p99Ms: 100, forwardRatio: 0.7, tokenRatio: 0.9 };
const PHASES = ['rebuild', 'restart', 'latency', 'forward'] as const;
type Phase = (typeof PHASES)[number];

// ---------------------------------------------------------------------------------------------
// options

interface Options {
  readonly events: number;
  readonly vnis: number;
  readonly tail: number;
  readonly window: number;
  readonly batch: number;
  readonly agents: number;
  readonly latencyEvents: number;
  readonly packets: number;
  readonly burst: number;
  readonly inFlight: number;
  readonly payloadBytes: number;
  readonly forwardRepeats: number;
  readonly only: ReadonlySet<Phase>;
  readonly resetLog: boolean;
  /** Folder for V8 CPU profiles of the measured child processes (none when empty). */
  readonly cpuProf: string;
}

const DEFAULTS: Options = {
  events: 1_000_000,
  vnis: 10,
  tail: 1000,
  window: 1000,
  batch: 2000,
  agents: 100,
  latencyEvents: 200,
  packets: 200_000,
  burst: 64,
  inFlight: 128,
  payloadBytes: 64,
  forwardRepeats: 3,
  only: new Set(PHASES),
  resetLog: false,
  cpuProf: '',
};

const HELP = `usage: npm run bench -- host-agent [options]

Host agent figures vs baselines measured in the same run: cold rebuild from N mapping events
(vs raw consumption; peak RSS), restart from a snapshot vs full replay, programming latency
over A agents, data-plane forwarding rate (vs plain UDP relays: the target applies to the
two-hop relay, two relay processes in a row like the data plane's two agents; the one-hop
relay is reported for reference). Starts its own nats-server (temp store) unless NATS_URL is set.

options:
  --events N           mapping events of the cold rebuild (default ${DEFAULTS.events}; e.g. 100000 for a quick run)
  --vnis K             VNIs they are spread over, all served by the agent (default ${DEFAULTS.vnis})
  --tail T             events appended after the snapshot (default ${DEFAULTS.tail})
  --window W           js.publish calls in flight when writing the log (default ${DEFAULTS.window})
  --batch B            max_messages per pull, raw baseline (readAll's default is 2000) (default ${DEFAULTS.batch})
  --agents A           followers of the latency phase (default ${DEFAULTS.agents})
  --latency-events M   mappings published one at a time in the latency phase (default ${DEFAULTS.latencyEvents})
  --packets P          packets per forwarding run (default ${DEFAULTS.packets})
  --burst B            packets the sender sends per event-loop turn (default ${DEFAULTS.burst})
  --in-flight F        packets sent and not yet received, at most (default ${DEFAULTS.inFlight}; the
                       default socket buffers hold ~200 small datagrams)
  --payload-bytes S    bytes after the 20-byte IPv4 header of each packet (default ${DEFAULTS.payloadBytes})
  --forward-repeats R  forwarding runs per side (data plane, 2-hop relay, 1-hop relay; interleaved),
                       medians reported (default ${DEFAULTS.forwardRepeats})
  --only LIST          comma-separated phases among ${PHASES.join(',')} (restart needs rebuild)
  --reset-log          allow deleting VNET_EVENTS on the NATS_URL server (required with NATS_URL)
  --cpu-prof DIR       write a V8 CPU profile of each measuring child process into DIR
                       (open in Chrome DevTools; profiling slows the children, so figures
                       of such a run are not comparable)
  --help               this text
`;

function parseOptions(args: readonly string[]): Options | 'help' {
  const given = parseBenchOptions<keyof Options>(args, {
    ints: {
      '--events': ['events', 1],
      '--vnis': ['vnis', 1],
      '--tail': ['tail', 0],
      '--window': ['window', 1],
      '--batch': ['batch', 1],
      '--agents': ['agents', 1],
      '--latency-events': ['latencyEvents', 1],
      '--packets': ['packets', 1],
      '--burst': ['burst', 1],
      '--in-flight': ['inFlight', 1],
      '--payload-bytes': ['payloadBytes', 0],
      '--forward-repeats': ['forwardRepeats', 1],
    },
    flags: { '--reset-log': 'resetLog' },
    strings: { '--only': 'only', '--cpu-prof': 'cpuProf' },
  });
  if (given === 'help') return 'help';
  const { only, ...rest } = given;
  const out = { ...DEFAULTS, ...rest } as { -readonly [K in keyof Options]: Options[K] };
  if (typeof only === 'string') {
    const list = only.split(',').map((p) => p.trim()).filter(Boolean);
    for (const p of list) if (!(PHASES as readonly string[]).includes(p)) throw new UsageError(`--only: unknown phase ${JSON.stringify(p)}`);
    out.only = new Set(list as Phase[]);
  }
  if (out.only.has('restart') && !out.only.has('rebuild')) throw new UsageError('--only: restart needs rebuild');
  if (out.events + out.tail > out.vnis * MAX_PER_VNI) throw new UsageError(`--events + --tail: at most ${MAX_PER_VNI} per VNI (one /8 each)`);
  if (out.payloadBytes > 1400) throw new UsageError('--payload-bytes: at most 1400');
  return out;
}

// ---------------------------------------------------------------------------------------------
// events

/** IPs of a VNI's mappings come from a counter j >= 1 within 10.0.0.0/8; 10.255.255.254 is the agent's own VM. */
const MAX_PER_VNI = (1 << 24) - 3;
const LOCAL_VM_IP = '10.255.255.254';
const ipOf = (j: number) => `10.${(j >>> 16) & 255}.${(j >>> 8) & 255}.${j & 255}`;

/** Mapping k (0-based) of the rebuild workload: VNI and counter within that VNI. */
const mappingAt = (k: number, vnis: number) => ({ vni: FIRST_VNI + (k % vnis), j: Math.floor(k / vnis) + 1 });

/** Bytes of a valid VmMappingAdded envelope (what encodeEventBytes writes, from a template). */
function mappingBytes(vni: number, j: number, at: string): Uint8Array {
  const id = randomUUID();
  const r = j % 64;
  return Buffer.from(
    `{"type":"VmMappingAdded","schemaVersion":1,"id":"${id}","causationId":null,"correlationId":"${id}","occurredAt":"${at}",` +
      `"payload":{"vni":${vni},"ip":"${ipOf(j)}","vmId":"vm-${vni}-${j}","hostId":"host-r${r}","underlay":"127.0.2.${r + 1}:6081"}}`,
    'utf8',
  );
}

/** A catalogue event from a plain object (validated: the benchmark must write what agents read). */
const domainEvent = (type: DomainEvent['type'], payload: Record<string, unknown>): DomainEvent => benchEvent(type, payload);

const attached = (hostId: string, vmId: string, vni: number, ip: string) => domainEvent('HostVmAttached', { hostId, vmId, vni, ip });

type Store = EventStore<DomainEvent>;

/** Deletes VNET_EVENTS and re-creates it exactly as EVENTS_STREAM declares it. */
async function resetLog(store: Store): Promise<void> {
  const { jsm } = store.unsafeContext();
  try {
    await jsm.streams.delete(LOG);
  } catch (e) {
    if (!/not found/i.test(e instanceof Error ? e.message : String(e))) throw e;
  }
  await store.applyTopology({ streams: [EVENTS_STREAM], consumers: [], kv: [] });
}

/** Publishes what `next` yields (undefined: done) with `window` js.publish calls in flight. */
async function publishRaw(store: Store, window: number, next: () => { subject: string; bytes: Uint8Array } | undefined): Promise<number> {
  const ctx = store.unsafeContext();
  let n = 0;
  const worker = async () => {
    for (let it = next(); it !== undefined; it = next()) {
      await ctx.js.publish(it.subject, it.bytes, { timeout: ctx.timeoutMs });
      n++;
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  return n;
}

/** Writes mappings [from, to) of the rebuild workload. */
function writeMappings(store: Store, from: number, to: number, o: Options): Promise<number> {
  let k = from;
  let at = new Date().toISOString();
  return publishRaw(store, o.window, () => {
    if (k >= to) return undefined;
    if (k % 10_000 === 0) at = new Date().toISOString();
    const { vni, j } = mappingAt(k++, o.vnis);
    return { subject: `vnet.evt.vni.${vni}`, bytes: mappingBytes(vni, j, at) };
  });
}

async function append(store: Store, ev: DomainEvent): Promise<void> {
  const r = await store.appendToStream(streamNameOf(ev), [ev], { expectedRevision: ANY });
  if (E.isLeft(r)) throw new Error(`append ${ev.type}: ${JSON.stringify(r.left)}`);
}

// ---------------------------------------------------------------------------------------------
// child processes

const CHILD = fileURLToPath(new URL('./hostAgentChild.ts', import.meta.url));

interface ChildMessage {
  readonly kind: string;
  readonly error?: string;
  readonly [k: string]: unknown;
}

/** Extra node options of every child (set from --cpu-prof). */
let childNodeArgs: readonly string[] = [];

/** A forked hostAgentChild.ts: messages are queued and taken in order by `next`. */
class Child {
  private readonly queue: ChildMessage[] = [];
  private waiter: (() => void) | undefined;
  private exited: string | undefined;
  readonly proc: ChildProcess;
  constructor(job: ChildJob, registry: Set<Child>) {
    this.proc = fork(CHILD, [JSON.stringify(job)], { execArgv: [...process.execArgv, ...childNodeArgs], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    registry.add(this);
    this.proc.on('message', (m: ChildMessage) => {
      this.queue.push(m);
      this.waiter?.();
    });
    this.proc.on('exit', (code, signal) => {
      registry.delete(this);
      this.exited = `child ${job.mode} exited (${signal ?? code})`;
      this.waiter?.();
    });
  }
  async next<T extends ChildMessage>(kind: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.queue.shift();
      if (m) {
        if (m.kind === 'error') throw new Error(`child: ${m.error ?? '?'}`);
        if (m.kind !== kind) throw new Error(`child: expected ${kind}, got ${m.kind}`);
        return m as T;
      }
      if (this.exited) throw new Error(this.exited);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`child: no ${kind} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => (clearTimeout(t), resolve());
      });
      this.waiter = undefined;
    }
  }
  command(c: DpCommand): void {
    this.proc.send(c);
  }
  /** Resolves when the process has exited, or after `ms`. */
  async exitedWithin(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.proc.exitCode === null && this.proc.signalCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }
  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}

async function measureInChild(job: ChildJob, children: Set<Child>, timeoutMs: number): Promise<MeasureResult> {
  const c = new Child(job, children);
  try {
    const r = await c.next<MeasureResult & ChildMessage>('result', timeoutMs);
    await c.exitedWithin(childNodeArgs.length > 0 ? 30_000 : 2_000); // it exits by itself (writing its profile)
    return r;
  } finally {
    c.kill();
  }
}

// ---------------------------------------------------------------------------------------------
// phase 3: programming latency

interface Latency {
  readonly agents: number;
  readonly samples: number[];
  readonly acks: number[];
  readonly setupSeconds: number;
}

async function latencyPhase(url: string, store: Store, o: Options, followers: Follower[], stores: Store[]): Promise<Latency> {
  const s0 = performance.now();
  const agentStore = await EventStore.connect({ servers: url, name: 'bench-host-agent-followers' }, domainEventCodec);
  stores.push(agentStore);
  const hosts = Array.from({ length: o.agents }, (_, i) => `lat-h${String(i).padStart(3, '0')}`);
  await Promise.all(hosts.map((h, i) => append(store, attached(h, `${h}-vm`, LATENCY_VNI, `10.200.${i >> 8}.${(i & 255) + 1}`))));
  let failure: unknown;
  const started = await Promise.all(
    hosts.map((hostId) => startFollowing({ store: agentStore, hostId, useSnapshot: false, snapshotEvery: 0, onError: (e) => (failure ??= e) })),
  );
  followers.push(...started);
  await Promise.all(started.map((f) => f.until((t) => t.vnis.has(LATENCY_VNI), 30_000)));
  let j = 0;
  const mapping = () => {
    j++;
    const ip = ipOf(j);
    return { ip, ev: domainEvent('VmMappingAdded', { vni: LATENCY_VNI, ip, vmId: `lat-vm-${j}`, hostId: 'host-r1', underlay: '127.0.2.2:6081' }) };
  };
  const once = async (): Promise<[number, number]> => {
    const { ip, ev } = mapping();
    const t0 = performance.now();
    const all = Promise.all(started.map((f) => f.until((t) => t.vnis.get(LATENCY_VNI)?.tunnels.has(ip) === true, 10_000)));
    await append(store, ev);
    const ack = performance.now() - t0;
    await all;
    if (failure !== undefined) throw failure;
    return [performance.now() - t0, ack];
  };
  // Warm-up: every follower's vni reader is up and has delivered at least once.
  for (let i = 0; i < 10; i++) await once();
  const setupSeconds = (performance.now() - s0) / 1000;
  const samples: number[] = [];
  const acks: number[] = [];
  for (let i = 0; i < o.latencyEvents; i++) {
    const [lat, ack] = await once();
    samples.push(lat);
    acks.push(ack);
  }
  return { agents: o.agents, samples, acks, setupSeconds };
}

// ---------------------------------------------------------------------------------------------
// phase 4: forwarding

interface ForwardRun {
  readonly sent: number;
  readonly received: number;
  readonly rate: number;
  /** CPU seconds of the forwarding process(es) per million packets received. */
  readonly cpuPerMpkt: number;
}

function ipv4Packet(src: string, dst: string, payloadBytes: number): Buffer {
  const p = Buffer.alloc(20 + payloadBytes, 0x61);
  p[0] = 0x45;
  p[1] = 0;
  p.writeUInt16BE(p.length, 2);
  p.writeUInt32BE(0x4000, 4);
  p[8] = 64;
  p[9] = IP_PROTOCOL.UDP;
  p.writeUInt16BE(0, 10);
  p.writeUInt32BE(ipv4FromString(src)!, 12);
  p.writeUInt32BE(ipv4FromString(dst)!, 16);
  p.writeUInt16BE(internetChecksum(p, 0, 20), 10);
  return p;
}

const bindSocket = (host: string, port = 0): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(port, host, () => {
      s.off('error', reject);
      s.on('error', () => undefined);
      resolve(s);
    });
  });

const closeSocket = (s: Socket) => new Promise<void>((resolve) => {
  try {
    s.close(() => resolve());
  } catch {
    resolve();
  }
});

/**
 * Sends `count` copies of `packet` to `to`, at most `burst` per event-loop turn and at most
 * `window` not yet received (a closed loop: the rate is what the path forwards, not what the
 * socket buffers drop); packets not received within 20 ms of silence are written off as lost.
 */
async function blast(sender: Socket, receiver: Socket, to: { host: string; port: number }, packet: Buffer, count: number, burst: number, window: number) {
  let received = 0;
  let last = 0;
  let wake: (() => void) | undefined;
  const onMessage = () => {
    received++;
    last = performance.now();
    if (wake) {
      const w = wake;
      wake = undefined;
      setImmediate(w); // after this turn's other datagrams are counted
    }
  };
  receiver.on('message', onMessage);
  try {
    const t0 = performance.now();
    let sent = 0;
    let lost = 0;
    while (sent < count) {
      const room = Math.min(burst, window - (sent - received - lost), count - sent);
      if (room > 0) {
        for (let i = 0; i < room; i++) sender.send(packet, to.port, to.host);
        sent += room;
        await new Promise<void>((r) => setImmediate(r)); // lets the receiver (and send callbacks) run
        continue;
      }
      // Window full: wait for a datagram, or write the window off after 20 ms of silence.
      const before = received;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => ((wake = undefined), resolve()), 20);
        wake = () => (clearTimeout(t), resolve());
      });
      if (received === before) lost = sent - received;
    }
    // Wait until all arrived or nothing came for 200 ms.
    for (;;) {
      const before = received;
      await new Promise((r) => setTimeout(r, 50));
      if (received >= count || (received === before && performance.now() - Math.max(last, t0) > 200)) break;
    }
    const seconds = ((received > 0 ? last : performance.now()) - t0) / 1000;
    return { sent, received, seconds };
  } finally {
    receiver.off('message', onMessage);
  }
}

/** The sides of the forwarding phase: the data plane (two agents), a one-hop and a two-hop relay. */
const FORWARD_SIDES = ['dataplane', 'tokens', 'relay', 'relay2'] as const;
type ForwardSide = (typeof FORWARD_SIDES)[number];

interface Forward {
  readonly runs: Record<ForwardSide, ForwardRun[]>;
  readonly drops: Record<string, number>;
  readonly stages: string[];
}

async function forwardPhase(o: Options, children: Set<Child>, sockets: Socket[]): Promise<Forward> {
  const ipA = '10.70.0.1';
  const ipB = '10.70.0.2';
  const a = new Child({ mode: 'dataplane', hostId: 'fwd-a', underlay: '127.0.1.61:0', vmPortHost: '127.0.1.61' }, children);
  const b = new Child({ mode: 'dataplane', hostId: 'fwd-b', underlay: '127.0.1.62:0', vmPortHost: '127.0.1.62' }, children);
  // The same two hosts with tokens on: B holds vm-b's key (id 1), A the pair's token.
  const vmKey = randomBytes(32);
  const ta = new Child({ mode: 'dataplane', hostId: 'fwd-a', underlay: '127.0.1.66:0', vmPortHost: '127.0.1.66', tokenKey: vmKey.toString('base64') }, children);
  const tb = new Child({ mode: 'dataplane', hostId: 'fwd-b', underlay: '127.0.1.67:0', vmPortHost: '127.0.1.67', tokenKey: vmKey.toString('base64') }, children);
  const sender = await bindSocket('127.0.0.1');
  const receiver = await bindSocket('127.0.0.1');
  sockets.push(sender, receiver);
  for (const s of [sender, receiver]) {
    for (const size of [16 * MIB, 4 * MIB, MIB]) {
      try {
        s.setRecvBufferSize(size);
        s.setSendBufferSize(size);
        break;
      } catch {
        // capped by net.core.rmem_max: keep what the kernel allows
      }
    }
  }
  const recvAddr = `127.0.0.1:${receiver.address().port}`;
  const relay = new Child({ mode: 'relay', bind: '127.0.1.63:0', target: recvAddr }, children);
  // The like-for-like baseline: two relay processes in a row, as the data plane has two agents.
  const relay2b = new Child({ mode: 'relay', bind: '127.0.1.65:0', target: recvAddr }, children);
  const ua = (await a.next<ChildMessage & { underlay: string }>('ready', 30_000)).underlay;
  const ub = (await b.next<ChildMessage & { underlay: string }>('ready', 30_000)).underlay;
  const uta = (await ta.next<ChildMessage & { underlay: string }>('ready', 30_000)).underlay;
  const utb = (await tb.next<ChildMessage & { underlay: string }>('ready', 30_000)).underlay;
  const relayAddr = (await relay.next<ChildMessage & { address: string }>('ready', 30_000)).address;
  const relay2bAddr = (await relay2b.next<ChildMessage & { address: string }>('ready', 30_000)).address;
  const relay2a = new Child({ mode: 'relay', bind: '127.0.1.64:0', target: relay2bAddr }, children);
  const relay2aAddr = (await relay2a.next<ChildMessage & { address: string }>('ready', 30_000)).address;
  const tunnels: WireDesired['tunnels'] = [
    [
      FORWARD_VNI,
      [
        [ipA, { vmId: 'vm-a', hostId: 'fwd-a', underlay: ua }],
        [ipB, { vmId: 'vm-b', hostId: 'fwd-b', underlay: ub }],
      ],
    ],
  ];
  type Applied = ChildMessage & { ports: Array<{ vmId: string; port: number }>; result: { failed: unknown[] } };
  const tokenTunnels: WireDesired['tunnels'] = [
    [
      FORWARD_VNI,
      [
        [ipA, { vmId: 'vm-a', hostId: 'fwd-a', underlay: uta }],
        [ipB, { vmId: 'vm-b', hostId: 'fwd-b', underlay: utb }],
      ],
    ],
  ];
  a.command({ cmd: 'apply', desired: { vms: [{ vmId: 'vm-a', vni: FORWARD_VNI, ip: ipA }], tunnels } });
  b.command({ cmd: 'apply', desired: { vms: [{ vmId: 'vm-b', vni: FORWARD_VNI, ip: ipB }], tunnels } });
  ta.command({ cmd: 'apply', desired: { vms: [{ vmId: 'vm-a', vni: FORWARD_VNI, ip: ipA }], tunnels: tokenTunnels } });
  tb.command({ cmd: 'apply', desired: { vms: [{ vmId: 'vm-b', vni: FORWARD_VNI, ip: ipB }], tunnels: tokenTunnels } });
  const appliedA = await a.next<Applied>('applied', 30_000);
  const appliedB = await b.next<Applied>('applied', 30_000);
  const appliedTA = await ta.next<Applied>('applied', 30_000);
  const appliedTB = await tb.next<Applied>('applied', 30_000);
  const failed = [appliedA, appliedB, appliedTA, appliedTB].flatMap((x) => x.result.failed);
  if (failed.length > 0) throw new Error(`apply failed: ${JSON.stringify(failed)}`);
  const portA = appliedA.ports.find((p) => p.vmId === 'vm-a')!.port;
  const portTA = appliedTA.ports.find((p) => p.vmId === 'vm-a')!.port;
  b.command({ cmd: 'attach', vmId: 'vm-b', peer: recvAddr });
  await b.next('attached', 30_000);
  tb.command({ cmd: 'attach', vmId: 'vm-b', peer: recvAddr });
  await tb.next('attached', 30_000);
  const expiry = Math.floor(Date.now() / 1000) + 3600;
  const [src, dst] = [ipv4FromString(ipA)!, ipv4FromString(ipB)!];
  const token = mintToken(vmKey, { vni: FORWARD_VNI, src, dst, dstUnderlay: utb, keyId: 1, expiry });
  ta.command({ cmd: 'pair', vni: FORWARD_VNI, src, dst, dstUnderlay: utb, keyId: 1, expiry, token: token.toString('base64') });
  await ta.next('paired', 30_000);

  const packet = ipv4Packet(ipA, ipB, o.payloadBytes);
  type Counters = ChildMessage & { cpuSeconds: number; counters?: { drops: Record<string, number> } };
  const cpuOf = async (cs: Child[]) => {
    let sum = 0;
    for (const c of cs) {
      c.command({ cmd: 'counters' });
      sum += (await c.next<Counters>('counters', 30_000)).cpuSeconds;
    }
    return sum;
  };
  const hostPort = (s: string) => ({ host: s.slice(0, s.lastIndexOf(':')), port: Number(s.slice(s.lastIndexOf(':') + 1)) });
  const sides: Record<ForwardSide, { procs: Child[]; to: { host: string; port: number } }> = {
    dataplane: { procs: [a, b], to: { host: '127.0.1.61', port: portA } },
    tokens: { procs: [ta, tb], to: { host: '127.0.1.66', port: portTA } },
    relay: { procs: [relay], to: hostPort(relayAddr) },
    relay2: { procs: [relay2a, relay2b], to: hostPort(relay2aAddr) },
  };
  const runSide = async (side: ForwardSide, count: number): Promise<ForwardRun> => {
    const { procs, to } = sides[side];
    const cpu0 = await cpuOf(procs);
    const r = await blast(sender, receiver, to, packet, count, o.burst, o.inFlight);
    const cpu = (await cpuOf(procs)) - cpu0;
    return { sent: r.sent, received: r.received, rate: r.received / r.seconds, cpuPerMpkt: r.received > 0 ? (cpu / r.received) * 1e6 : Number.NaN };
  };
  // Warm-up (JIT, sockets): a short run of each, not kept.
  const warm = Math.min(o.packets, 20_000);
  for (const side of FORWARD_SIDES) await runSide(side, warm);
  const runs: Record<ForwardSide, ForwardRun[]> = { dataplane: [], tokens: [], relay: [], relay2: [] };
  for (let r = 0; r < o.forwardRepeats; r++) {
    // Interleaved: the order rotates each round, so every side takes every position in turn.
    const order = FORWARD_SIDES.map((_, i) => FORWARD_SIDES[(i + r + 1) % FORWARD_SIDES.length]!);
    process.stdout.write(`forward ${r + 1}/${o.forwardRepeats}:`);
    for (const side of order) {
      const run = await runSide(side, o.packets);
      runs[side].push(run);
      process.stdout.write(` ${side} ${fmtInt(run.rate)} pkt/s (${fmtInt(run.received)}/${fmtInt(run.sent)})`);
    }
    process.stdout.write('\n');
  }
  const drops: Record<string, number> = {};
  const stages: string[] = [];
  for (const [name, c] of [['A', a], ['B', b], ['tokens A', ta], ['tokens B', tb]] as const) {
    c.command({ cmd: 'counters' });
    const m = await c.next<Counters>('counters', 30_000);
    for (const [k, v] of Object.entries(m.counters?.drops ?? {})) if (v > 0) drops[k] = (drops[k] ?? 0) + v;
    const k = m.counters as unknown as Record<string, number> | undefined;
    if (k) stages.push(`${name}: vmRx ${fmtInt(k.vmRxPackets ?? 0)}, underlayTx ${fmtInt(k.underlayTxPackets ?? 0)}, underlayRx ${fmtInt(k.underlayRxPackets ?? 0)}, vmTx ${fmtInt(k.vmTxPackets ?? 0)}`);
  }
  const all = [a, b, ta, tb, relay, relay2a, relay2b];
  for (const c of all) c.command({ cmd: 'stop' });
  // They exit by themselves (writing their CPU profiles when asked to).
  await Promise.all(all.map((c) => c.exitedWithin(childNodeArgs.length > 0 ? 30_000 : 2_000)));
  return { runs, drops, stages };
}

// ---------------------------------------------------------------------------------------------
// report

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const percentile = (xs: readonly number[], p: number) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const fmtInt = (r: number) => Math.round(r).toLocaleString('en-US');
const mib = (b: number) => `${(b / MIB).toFixed(0)} MiB`;

interface Row {
  readonly phase: string;
  readonly figure: string;
  readonly baseline: string;
  readonly ratio: string;
  readonly target: string;
  readonly pass: boolean | undefined;
}

function table(rows: readonly Row[]): string {
  const head = ['phase', 'figure', 'baseline', 'ratio', 'target', 'result'];
  const body = rows.map((r) => [r.phase, r.figure, r.baseline, r.ratio, r.target, r.pass === undefined ? '-' : r.pass ? 'PASS' : 'MISS']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// run

export async function run(args: readonly string[]): Promise<number> {
  let o: Options;
  try {
    const parsed = parseOptions(args);
    if (parsed === 'help') {
      console.log(HELP);
      return 0;
    }
    o = parsed;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`bench host-agent: ${e.message}\n\n${HELP}`);
    return 2;
  }
  if (o.cpuProf) {
    const dir = path.resolve(o.cpuProf);
    mkdirSync(dir, { recursive: true });
    childNodeArgs = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
    console.log(`CPU profiles of the child processes go to ${dir} (profiled run: figures not comparable)`);
  }
  const external = process.env.NATS_URL;
  const needsLog = o.only.has('rebuild') || o.only.has('latency');
  if (external && needsLog && !o.resetLog) {
    console.error(
      `bench host-agent: NATS_URL=${external} is set; this benchmark deletes and re-creates ${LOG} there.\n` +
        'Pass --reset-log to allow it, or unset NATS_URL to let the benchmark start its own server.',
    );
    return 2;
  }

  // Everything started here is stopped by cleanup(), also on error and on SIGINT/SIGTERM.
  let server: RunningNatsServer | undefined;
  const stores: Store[] = [];
  const followers: Follower[] = [];
  const children = new Set<Child>();
  const sockets: Socket[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      for (const c of [...children]) c.kill();
      await Promise.allSettled(sockets.map(closeSocket));
      await Promise.allSettled(followers.map((f) => f.stop()));
      await Promise.allSettled(stores.map((s) => s.close()));
      await server?.stop().catch(() => undefined);
    })());
  const onSignal = (sig: NodeJS.Signals) => {
    console.error(`\nbench host-agent: ${sig}, stopping`);
    setTimeout(() => process.exit(130), 10_000).unref();
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const rows: Row[] = [];
  const notes: string[] = [];
  try {
    const loadBefore = loadavg()[0]!.toFixed(2);
    let url = external ?? '';
    let store: Store | undefined;
    if (needsLog) {
      if (!external) server = await startNatsServer();
      url = external ?? server!.url;
      store = await EventStore.connect({ servers: url, name: 'bench-host-agent' }, domainEventCodec);
      stores.push(store);
      await resetLog(store);
      console.log(`server: nats-server ${store.unsafeContext().nc.info?.version ?? '?'} at ${url} (${external ? 'NATS_URL' : 'started by the benchmark, temp store'})`);
    }
    const N = o.events;

    if (o.only.has('rebuild')) {
      const s = store!;
      // The template must be what the agent's codec accepts.
      const probe = domainEventCodec.decode(mappingBytes(FIRST_VNI, 1, new Date().toISOString()));
      if (E.isLeft(probe)) throw new Error(`bench VmMappingAdded template is not a valid event: ${probe.left}`);
      for (let v = 0; v < o.vnis; v++) await append(s, attached(REBUILD_HOST, `${REBUILD_HOST}-vm${v}`, FIRST_VNI + v, LOCAL_VM_IP));
      const w0 = performance.now();
      const written = await writeMappings(s, 0, N, o);
      const writeSec = (performance.now() - w0) / 1000;
      const inLog = await s.count(LOG, 'vnet.evt.vni.>');
      if (written !== N || inLog !== N) throw new Error(`wrote ${written}, the log holds ${inLog} mappings, expected ${N}`);
      console.log(`log: ${fmtInt(N)} VmMappingAdded over ${o.vnis} VNIs written in ${writeSec.toFixed(1)} s (${fmtInt(N / writeSec)} ev/s, raw js.publish, window ${o.window})`);

      const timeoutMs = 120_000 + Math.ceil(N * 0.3);
      const rawJob: ChildJob = { mode: 'raw', url, stream: LOG, filter: 'vnet.evt.vni.>', expected: N, batch: o.batch };
      const raw1 = await measureInChild(rawJob, children, timeoutMs);
      console.log(`raw consumption 1: ${raw1.seconds.toFixed(2)} s, ${fmtInt(N / raw1.seconds)} ev/s, max RSS ${mib(raw1.maxRss)}`);
      const rebuild = await measureInChild(
        { mode: 'follow', url, hostId: REBUILD_HOST, expected: N, useSnapshot: false, saveSnapshot: o.only.has('restart'), hash: false, timeoutMs },
        children,
        timeoutMs + 120_000,
      );
      console.log(
        `rebuild: ${rebuild.seconds.toFixed(2)} s, ${fmtInt(N / rebuild.seconds)} ev/s, folded ${fmtInt(rebuild.count)}, ` +
          `peak RSS ${mib(rebuild.peakRssSampled)} sampled / ${mib(rebuild.maxRss)} high-water (${mib(rebuild.rssBefore)} before), ` +
          `CPU ${rebuild.cpuSeconds.toFixed(1)} s` +
          (rebuild.snapshotSeconds === undefined ? '' : `; snapshot saved in ${rebuild.snapshotSeconds.toFixed(2)} s (high-water RSS then ${mib(rebuild.snapshotMaxRss ?? 0)})`),
      );
      const raw2 = await measureInChild(rawJob, children, timeoutMs);
      console.log(`raw consumption 2: ${raw2.seconds.toFixed(2)} s, ${fmtInt(N / raw2.seconds)} ev/s`);
      const rawRate = (N / raw1.seconds + N / raw2.seconds) / 2;
      const rate = N / rebuild.seconds;
      rows.push({
        phase: 'rebuild (ev/s)',
        figure: `${fmtInt(rate)} (${rebuild.seconds.toFixed(2)} s)`,
        baseline: `raw ${fmtInt(rawRate)}`,
        ratio: (rate / rawRate).toFixed(3),
        target: `>= ${TARGET.rebuildRatio.toFixed(2)}`,
        pass: rate / rawRate >= TARGET.rebuildRatio,
      });
      const peak = Math.max(rebuild.peakRssSampled, rebuild.maxRss);
      rows.push({
        phase: 'rebuild peak RSS',
        figure: mib(peak),
        baseline: `raw ${mib(Math.max(raw1.maxRss, raw2.maxRss))}`,
        ratio: '-',
        target: `< ${TARGET.rssMiB} MiB`,
        pass: peak < TARGET.rssMiB * MIB,
      });
      notes.push(
        `rebuild: N=${fmtInt(N)} mappings over ${o.vnis} VNIs, one host agent, no snapshot; raw = one ordered consumer (callback mode, as the agent's readers) over vnet.evt.vni.> ` +
          `(max_messages ${o.batch}), runs ${fmtInt(N / raw1.seconds)} / ${fmtInt(N / raw2.seconds)} ev/s (before/after the rebuild), mean used. ` +
          `CPU: agent ${((rebuild.cpuSeconds / N) * 1e6).toFixed(1)} µs/ev, raw ${((raw1.cpuSeconds / N) * 1e6).toFixed(1)} µs/ev. ` +
          `RSS: agent process before start ${mib(rebuild.rssBefore)}.`,
      );

      if (o.only.has('restart')) {
        await writeMappings(s, N, N + o.tail, o);
        const expected = N + o.tail;
        const fromSnap = await measureInChild(
          { mode: 'follow', url, hostId: REBUILD_HOST, expected, useSnapshot: true, saveSnapshot: false, hash: true, timeoutMs },
          children,
          timeoutMs + 120_000,
        );
        const rs = fromSnap.restore;
        console.log(
          `restart from snapshot: ${fromSnap.seconds.toFixed(2)} s (restored from position ${fromSnap.restoredFrom}` +
            (rs ? `: ${mib(rs.bytes)} loaded in ${rs.loadMs} ms, decoded in ${rs.decodeMs} ms` : '') +
            `; folded ${fmtInt(fromSnap.count)}), max RSS ${mib(fromSnap.maxRss)}`,
        );
        const full = await measureInChild(
          { mode: 'follow', url, hostId: REBUILD_HOST, expected, useSnapshot: false, saveSnapshot: false, hash: true, timeoutMs },
          children,
          timeoutMs + 120_000,
        );
        console.log(`full replay: ${full.seconds.toFixed(2)} s (folded ${fmtInt(full.count)})`);
        const same = fromSnap.hash === full.hash;
        const speedup = full.seconds / fromSnap.seconds;
        rows.push({
          phase: 'restart: snapshot vs replay',
          figure: `${fromSnap.seconds.toFixed(2)} s`,
          baseline: `replay ${full.seconds.toFixed(2)} s`,
          ratio: `${speedup.toFixed(1)}x`,
          target: `>= ${TARGET.speedup}x`,
          pass: speedup >= TARGET.speedup && same,
        });
        notes.push(
          `restart: snapshot (${fmtInt(N)} entries, saved in ${rebuild.snapshotSeconds?.toFixed(2) ?? '?'} s) + ${fmtInt(o.tail)} tail events vs ` +
            `full replay of ${fmtInt(expected)}; folded ${fmtInt(fromSnap.count)} vs ${fmtInt(full.count)}; ` +
            `table hashes ${same ? 'equal' : 'DIFFER (counted as MISS)'}.`,
        );
      }
    }

    if (o.only.has('latency')) {
      const lat = await latencyPhase(url, store!, o, followers, stores);
      const p50 = percentile(lat.samples, 50);
      const p99 = percentile(lat.samples, 99);
      console.log(
        `latency: ${o.latencyEvents} mappings, ${lat.agents} agents: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...lat.samples).toFixed(1)} ms ` +
          `(append ack p50 ${percentile(lat.acks, 50).toFixed(1)} ms)`,
      );
      rows.push({
        phase: `programming latency p50/p99`,
        figure: `${p50.toFixed(1)} / ${p99.toFixed(1)} ms`,
        baseline: '-',
        ratio: '-',
        target: `p99 < ${TARGET.p99Ms} ms`,
        pass: p99 < TARGET.p99Ms,
      });
      notes.push(
        `latency: ${lat.agents} followers in this process on one connection (${2 * lat.agents} ordered consumers), one VNI; ` +
          `${o.latencyEvents} VmMappingAdded appended one at a time via appendToStream after 10 warm-up ones; from just before the append ` +
          `to all ${lat.agents} tables holding the entry. Append ack alone: p50 ${percentile(lat.acks, 50).toFixed(1)} ms, ` +
          `p99 ${percentile(lat.acks, 99).toFixed(1)} ms. Max ${Math.max(...lat.samples).toFixed(1)} ms. Setup ${lat.setupSeconds.toFixed(1)} s.`,
      );
      await Promise.allSettled(followers.splice(0).map((f) => f.stop()));
    }

    if (o.only.has('forward')) {
      const fw = await forwardPhase(o, children, sockets);
      const { dataplane, tokens, relay, relay2 } = fw.runs;
      const dp = median(dataplane.map((r) => r.rate));
      const ratioTo = (base: readonly ForwardRun[]) => median(dataplane.map((r, i) => r.rate / base[i]!.rate));
      const ratio2 = ratioTo(relay2);
      const ratio1 = ratioTo(relay);
      rows.push({
        phase: 'forwarding (pkt/s), 2 hops',
        figure: fmtInt(dp),
        baseline: `2-hop relay ${fmtInt(median(relay2.map((r) => r.rate)))}`,
        ratio: ratio2.toFixed(3),
        target: `>= ${TARGET.forwardRatio.toFixed(2)}`,
        pass: ratio2 >= TARGET.forwardRatio,
      });
      const tokenRatio = median(tokens.map((r, i) => r.rate / dataplane[i]!.rate));
      rows.push({
        phase: 'forwarding with tokens',
        figure: fmtInt(median(tokens.map((r) => r.rate))),
        baseline: `without ${fmtInt(dp)}`,
        ratio: tokenRatio.toFixed(3),
        target: `>= ${TARGET.tokenRatio.toFixed(2)}`,
        pass: tokenRatio >= TARGET.tokenRatio,
      });
      rows.push({
        phase: 'forwarding vs 1-hop relay',
        figure: fmtInt(dp),
        baseline: `1-hop relay ${fmtInt(median(relay.map((r) => r.rate)))}`,
        ratio: ratio1.toFixed(3),
        target: '(info)',
        pass: undefined,
      });
      const loss = (runs: readonly ForwardRun[]) => `${(median(runs.map((r) => 1 - r.received / r.sent)) * 100).toFixed(1)} %`;
      const cpu = (runs: readonly ForwardRun[]) => `${median(runs.map((r) => r.cpuPerMpkt)).toFixed(2)} s`;
      notes.push(
        `forward: ${fmtInt(o.packets)} packets of ${20 + o.payloadBytes} B per run, bursts of ${o.burst} per event-loop turn, at most ${o.inFlight} in flight, ` +
          `${o.forwardRepeats} runs per side (interleaved, order rotating), medians; ratio = median of per-run ratios. Data plane path: sender → ` +
          `VM port A (127.0.1.61) → underlay A → underlay B (127.0.1.62) → receiver, two processes. Like-for-like baseline (the target applies ` +
          `to it): sender → relay (127.0.1.64) → relay (127.0.1.65) → receiver, two plain dgram relay processes. The one-hop relay ` +
          `(sender → 127.0.1.63 → receiver, one process) is shown for reference only: it has half the hops, so its ratio understates the data plane. ` +
          `With tokens: the same path on 127.0.1.66 → 127.0.1.67, every frame's token checked at B (a verified token is cached per pair). ` +
          `Not received (median): data plane ${loss(dataplane)}, with tokens ${loss(tokens)}, 2-hop relay ${loss(relay2)}, 1-hop relay ${loss(relay)} ` +
          `(lost packets are written off after 20 ms of silence). ` +
          `CPU of the forwarding processes per million packets: data plane (A+B) ${cpu(dataplane)}, with tokens ${cpu(tokens)}, 2-hop relay (both) ${cpu(relay2)}, 1-hop relay ${cpu(relay)}. ` +
          `Data plane drops by reason: ${Object.keys(fw.drops).length ? JSON.stringify(fw.drops) : 'none'}; packets per stage (all runs): ${fw.stages.join('; ')}. ` +
          `Runs (dp / tokens / 2-hop / 1-hop pkt/s): ${dataplane.map((r, i) => `${fmtInt(r.rate)}/${fmtInt(tokens[i]!.rate)}/${fmtInt(relay2[i]!.rate)}/${fmtInt(relay[i]!.rate)}`).join(', ')}.`,
      );
    }

    const loadAfter = loadavg()[0]!.toFixed(2);
    console.log('');
    console.log(table(rows));
    console.log('');
    for (const n of notes) console.log(`- ${n}`);
    console.log(
      `- load average (1 min): ${loadBefore} before, ${loadAfter} after` +
        (Number(loadBefore) > 1 ? '  (something else was running: expect noise)' : ''),
    );
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}
