/**
 * Child process of `npm run bench -- host-agent` (forked by hostAgent.ts, never run by hand):
 * one measurement in a process of its own, so its peak RSS is its own and every side starts
 * with a cold JIT. The job comes as JSON in argv[2]; results go back over IPC.
 *
 *  - `raw`:      an ordered consumer over a filter (callback mode), counting `expected` messages (the baseline).
 *  - `follow`:   startFollowing(...) until the tables hold `expected` entries; optionally a
 *                snapshot afterwards and the table hash.
 *  - `dataplane`: a long-lived data plane (createDataPlane), driven by IPC commands; with
 *                `tokenKey`, tokens on (pairs installed by the `pair` command).
 *  - `relay`:    a long-lived plain UDP relay (receive on one socket, re-send to a target).
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { domainEventCodec } from '@vnet/events';
import { EventStore } from '@vnet/eventstore';
import { createDataPlane, type DataPlane } from '../../services/host-agent/src/adapters/dataplane';
import { startFollowing } from '../../services/host-agent/src/adapters/follow';
import type { Desired } from '../../services/host-agent/src/domain/desired';
import { tableHash } from '../../services/host-agent/src/domain/snapshot';
import { tableSize, type Tunnel } from '../../services/host-agent/src/domain/table';

export type ChildJob =
  | { readonly mode: 'raw'; readonly url: string; readonly stream: string; readonly filter: string; readonly expected: number; readonly batch: number }
  | {
      readonly mode: 'follow';
      readonly url: string;
      readonly hostId: string;
      readonly expected: number;
      readonly useSnapshot: boolean;
      readonly saveSnapshot: boolean;
      readonly hash: boolean;
      readonly timeoutMs: number;
    }
  | {
      readonly mode: 'dataplane';
      readonly hostId: string;
      readonly underlay: string;
      readonly vmPortHost: string;
      /** Tokens on, with this destination VM key (base64) as key id 1 of every local VM. */
      readonly tokenKey?: string;
    }
  | { readonly mode: 'relay'; readonly bind: string; readonly target: string };

export interface MeasureResult {
  readonly kind: 'result';
  readonly seconds: number;
  readonly count: number;
  /** Highest RSS sampled every 50 ms during the measured part (bytes). */
  readonly peakRssSampled: number;
  /** The kernel's high-water mark of the process's RSS at the end of the measured part (bytes). */
  readonly maxRss: number;
  /** RSS before the measured part started (bytes). */
  readonly rssBefore: number;
  /** CPU time of this process during the measured part (seconds). */
  readonly cpuSeconds: number;
  readonly restoredFrom?: number;
  readonly restore?: { readonly bytes: number; readonly loadMs: number; readonly decodeMs: number };
  readonly snapshotSeconds?: number;
  readonly snapshotMaxRss?: number;
  readonly hash?: string;
}

/** Serializable desired state (Maps do not cross IPC). */
export interface WireDesired {
  readonly vms: Desired['vms'];
  readonly tunnels: Array<[number, Array<[string, Tunnel]>]>;
}

export type DpCommand =
  | { readonly cmd: 'apply'; readonly desired: WireDesired }
  | { readonly cmd: 'attach'; readonly vmId: string; readonly peer: string }
  | { readonly cmd: 'pair'; readonly vni: number; readonly src: number; readonly dst: number; readonly dstUnderlay: string; readonly keyId: number; readonly expiry: number; readonly token: string }
  | { readonly cmd: 'counters' }
  | { readonly cmd: 'stop' };

const send = (m: unknown) =>
  new Promise<void>((resolve, reject) => process.send!(m, undefined, {}, (e: Error | null) => (e ? reject(e) : resolve())));

function rssSampler() {
  let peak = process.memoryUsage.rss();
  const t = setInterval(() => {
    const r = process.memoryUsage.rss();
    if (r > peak) peak = r;
  }, 50);
  return {
    stop: () => {
      clearInterval(t);
      return Math.max(peak, process.memoryUsage.rss());
    },
  };
}

const maxRssBytes = () => process.resourceUsage().maxRSS * 1024;
const cpuSec = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1e6;

async function raw(job: Extract<ChildJob, { mode: 'raw' }>): Promise<MeasureResult> {
  const store = await EventStore.connect({ servers: job.url, name: 'bench-host-agent-raw' }, domainEventCodec);
  try {
    const ctx = store.unsafeContext();
    const rssBefore = process.memoryUsage.rss();
    const sampler = rssSampler();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let seen = 0;
    const consumer = await ctx.js.consumers.get(job.stream, { filter_subjects: job.filter });
    // Callback mode, as the agent's readers (forEachEvent) use: the cheapest way to consume.
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    const messages = await consumer.consume({
      max_messages: job.batch,
      callback: (m) => {
        if (m.data.length > 0) seen++;
        if (seen === job.expected) done();
      },
    });
    try {
      await all;
    } finally {
      await messages.close().catch(() => undefined);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpuSeconds = cpuSec(process.cpuUsage(cpu0));
    const peak = sampler.stop();
    await consumer.delete().catch(() => undefined);
    return { kind: 'result', seconds, count: seen, peakRssSampled: peak, maxRss: maxRssBytes(), rssBefore, cpuSeconds };
  } finally {
    await store.close().catch(() => undefined);
  }
}

async function follow(job: Extract<ChildJob, { mode: 'follow' }>): Promise<MeasureResult> {
  const store = await EventStore.connect({ servers: job.url, name: `bench-host-agent-${job.hostId}` }, domainEventCodec);
  try {
    let failure: unknown;
    const rssBefore = process.memoryUsage.rss();
    const sampler = rssSampler();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const f = await startFollowing({
      store,
      hostId: job.hostId,
      useSnapshot: job.useSnapshot,
      snapshotEvery: 0,
      onError: (e) => (failure ??= e),
    });
    // Poll cheaply (tableSize is O(VNIs)); a 5 ms tick is noise next to seconds of folding.
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + job.timeoutMs;
      const tick = setInterval(() => {
        const n = tableSize(f.tables());
        if (failure !== undefined || n >= job.expected || Date.now() > deadline) {
          clearInterval(tick);
          if (failure !== undefined) reject(failure instanceof Error ? failure : new Error(String(failure)));
          else if (n !== job.expected) reject(new Error(`host ${job.hostId}: ${n} table entries, expected ${job.expected} (after ${Date.now() - deadline + job.timeoutMs} ms)`));
          else resolve();
        }
      }, 5);
    });
    const seconds = (performance.now() - t0) / 1000;
    const cpuSeconds = cpuSec(process.cpuUsage(cpu0));
    const peak = sampler.stop();
    const maxRss = maxRssBytes();
    const count = f.folded();
    let snapshotSeconds: number | undefined;
    if (job.saveSnapshot) {
      const s0 = performance.now();
      await f.snapshot();
      snapshotSeconds = (performance.now() - s0) / 1000;
    }
    const snapshotMaxRss = job.saveSnapshot ? maxRssBytes() : undefined;
    await f.stop();
    const hash = job.hash ? tableHash(f.tables()) : undefined;
    return {
      kind: 'result',
      seconds,
      count,
      peakRssSampled: peak,
      maxRss,
      rssBefore,
      cpuSeconds,
      restoredFrom: f.restoredFrom,
      restore: f.restore,
      ...(snapshotSeconds === undefined ? {} : { snapshotSeconds, snapshotMaxRss }),
      ...(hash === undefined ? {} : { hash }),
    };
  } finally {
    await store.close().catch(() => undefined);
  }
}

const hostPort = (s: string) => {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
};

async function dataplane(job: Extract<ChildJob, { mode: 'dataplane' }>): Promise<void> {
  const key = job.tokenKey === undefined ? undefined : Buffer.from(job.tokenKey, 'base64');
  const dp: DataPlane = await createDataPlane({
    hostId: job.hostId,
    underlay: job.underlay,
    vmPortHost: job.vmPortHost,
    ...(key ? { tokens: { keyOf: (_vm: string, keyId: number) => (keyId === 1 ? key : undefined) } } : {}),
  });
  const cpu0 = process.cpuUsage();
  process.on('message', (m: DpCommand) => {
    void (async () => {
      try {
        switch (m.cmd) {
          case 'apply': {
            const desired: Desired = { vms: m.desired.vms, tunnels: new Map(m.desired.tunnels.map(([vni, t]) => [vni, new Map(t)])) };
            const r = await dp.apply(desired);
            await send({ kind: 'applied', result: r, ports: dp.vmPorts() });
            break;
          }
          case 'attach':
            dp.attachVm(m.vmId, m.peer);
            await send({ kind: 'attached' });
            break;
          case 'pair':
            dp.setPair(m.vni, m.src, m.dst, { dstUnderlay: m.dstUnderlay, keyId: m.keyId, expiry: m.expiry, token: Buffer.from(m.token, 'base64') });
            await send({ kind: 'paired' });
            break;
          case 'counters':
            await send({ kind: 'counters', counters: dp.counters(), cpuSeconds: cpuSec(process.cpuUsage(cpu0)) });
            break;
          case 'stop':
            await dp.close();
            process.exit(0);
        }
      } catch (e) {
        await send({ kind: 'error', error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
      }
    })();
  });
  await send({ kind: 'ready', underlay: dp.underlay });
}

async function relay(job: Extract<ChildJob, { mode: 'relay' }>): Promise<void> {
  const bind = hostPort(job.bind);
  const target = hostPort(job.target);
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(bind.port, bind.host, () => resolve());
  });
  let relayed = 0;
  s.on('error', () => undefined);
  s.on('message', (msg) => {
    relayed++;
    s.send(msg, target.port, target.host);
  });
  const cpu0 = process.cpuUsage();
  process.on('message', (m: DpCommand) => {
    if (m.cmd === 'counters') void send({ kind: 'counters', relayed, cpuSeconds: cpuSec(process.cpuUsage(cpu0)) });
    if (m.cmd === 'stop') s.close(() => process.exit(0));
  });
  const a = s.address();
  await send({ kind: 'ready', address: `${a.address}:${a.port}` });
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('hostAgentChild.ts is forked by hostAgent.ts (it needs an IPC channel)');
  // The parent going away (crash, SIGKILL) must not leave this process behind.
  process.on('disconnect', () => process.exit(1));
  const job = JSON.parse(process.argv[2] ?? '{}') as ChildJob;
  switch (job.mode) {
    case 'raw':
      await send(await raw(job));
      process.exit(0);
      break;
    case 'follow':
      await send(await follow(job));
      process.exit(0);
      break;
    case 'dataplane':
      await dataplane(job);
      break;
    case 'relay':
      await relay(job);
      break;
    default:
      throw new Error(`unknown job ${JSON.stringify(job)}`);
  }
}

main().catch(async (e: unknown) => {
  const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
  await send({ kind: 'error', error }).catch(() => console.error(error));
  process.exit(1);
});
