/**
 * `npm run bench -- resources`: allocations per second through the resource manager, each a
 * durable event written with optimistic concurrency on its node's subject.
 *
 * - one node: N `cpus` requests to one host node (one at a time: each decision expects the
 *   node's revision);
 * - many nodes: the same N spread over M host nodes (handled at the same time);
 * - many nodes, two instances sharing the requests.
 * The requests are in the log before the manager starts; the clock runs from its start to
 * its last decision. Baselines in the same run: raw appends of the same events one after the
 * other with an expected revision (the floor of one-at-a-time on one node: one round trip
 * each), and pipelined without expectation (the client's ceiling).
 * Target: >= 2,000 allocations/s on one node. Exits 0 even when the target is missed.
 */
import * as E from 'fp-ts/lib/Either.js';
import { domainEventCodec, streamNameOf, type DomainEvent } from '@vnet/events';
import type { EventStore } from '@vnet/eventstore';
import { startTestNats, type TestNats } from '@vnet/eventstore/testing';
import { vnetTopology } from '@vnet/topology';
import { startResourceManager, type ResourceManager } from '../../services/resource-manager/src/adapters/manager';
import { readOptions } from './options';
import { benchEvent, loadNow, printLoad, printTable } from './report';

const TARGET_PER_S = 2000;

interface Options {
  readonly requests: number;
  readonly nodes: number;
}
const DEFAULTS: Options = { requests: 10_000, nodes: 50 };

const HELP = `usage: npm run bench -- resources [options]

Allocations per second through the resource manager (every allocation a durable event,
written expecting its node's revision): on one node, over many nodes, and over many nodes
with two instances. Baselines: raw appends with an expected revision one after the other,
and pipelined. Target: >= ${TARGET_PER_S}/s on one node.

options:
  --requests N   allocation requests per phase (default ${DEFAULTS.requests})
  --nodes M      host nodes of the many-nodes phases (default ${DEFAULTS.nodes})
  -h, --help     this text`;

const event = benchEvent;

async function appendAll(store: EventStore<DomainEvent>, evs: readonly DomainEvent[]): Promise<void> {
  for (let i = 0; i < evs.length; i += 1000) {
    const rs = await Promise.all(evs.slice(i, i + 1000).map((ev) => store.appendToStream(streamNameOf(ev), [ev])));
    for (const r of rs) if (E.isLeft(r)) throw new Error(`append: ${JSON.stringify(r.left)}`);
  }
}

export async function run(args: readonly string[]): Promise<number> {
  const read = readOptions(args, { ints: { '--requests': ['requests', 10], '--nodes': ['nodes', 2] } }, DEFAULTS, HELP);
  if (typeof read === 'number') return read;
  const o: Options = read;
  const loadBefore = loadNow();
  let nats: TestNats | undefined;
  const stores: EventStore<DomainEvent>[] = [];
  const managers: ResourceManager[] = [];
  try {
    nats = await startTestNats(vnetTopology());
    const store = await nats.connect(domainEventCodec, 'bench-resources');
    stores.push(store);
    const holder = { kind: 'vm', id: 'bench-vm' };
    const host = (phase: string, i: number) => ({ kind: 'host', id: `${phase}-h${i}` });

    /** Hosts of a phase (each with room for every request), linked to the holder. */
    const seed = async (phase: string, hosts: number) => {
      const evs: DomainEvent[] = [];
      for (let i = 0; i < hosts; i++) {
        evs.push(event('ResourceNodeAdded', { node: host(phase, i), capacity: { cpus: o.requests } }), event('ResourceLinked', { from: holder, to: host(phase, i), relation: 'uses' }));
      }
      await appendAll(store, evs);
    };
    const requests = (phase: string, hosts: number) =>
      Array.from({ length: o.requests }, (_, i) => event('AllocationRequested', { allocationId: `${phase}-${i}`, provider: host(phase, i % hosts), holder, resource: 'cpus', amount: 1 }));

    await appendAll(store, [event('ResourceNodeAdded', { node: holder, capacity: {} })]);

    /** Starts `instances` managers on the requests already in the log; resolves allocations/s. */
    const phase = async (name: string, hosts: number, instances: number): Promise<{ perS: number; conflicts: number }> => {
      await seed(name, hosts);
      await appendAll(store, requests(name, hosts));
      process.stdout.write(`${name}: ${o.requests} requests over ${hosts} node(s), ${instances} instance(s)… `);
      const t0 = performance.now();
      const started: ResourceManager[] = [];
      for (let i = 0; i < instances; i++) {
        const s = await nats!.connect(domainEventCodec, `bench-rm-${name}-${i}`);
        stores.push(s);
        started.push(await startResourceManager(s, { subscription: `bench-${name}` }));
      }
      managers.push(...started);
      const decided = () => started.reduce((n, m) => n + m.counters().allocated + m.counters().refused, 0);
      for (let i = 0; decided() < o.requests; i++) {
        if (i > 600_000) throw new Error(`${name}: only ${decided()} of ${o.requests} decided after 10 minutes`);
        await new Promise((r) => setTimeout(r, 1));
      }
      const s = (performance.now() - t0) / 1000;
      for (const m of started) await m.stop();
      const refused = started.reduce((n, m) => n + m.counters().refused, 0);
      if (refused > 0) throw new Error(`${name}: ${refused} requests refused (every one should fit)`);
      const conflicts = started.reduce((n, m) => n + m.counters().conflicts, 0);
      console.log(`${(o.requests / s).toFixed(0)}/s`);
      return { perS: o.requests / s, conflicts };
    };

    // Baselines: the same decision events, raw.
    const baselineEvents = (tag: string) =>
      Array.from({ length: o.requests }, (_, i) => event('ResourceAllocated', { allocationId: `${tag}-${i}`, provider: { kind: 'host', id: tag }, holder, resource: 'cpus', amount: 1 }));
    process.stdout.write('baseline: raw appends expecting the revision, one after the other… ');
    const seqEvs = baselineEvents('raw-seq');
    let rev = 0;
    const b0 = performance.now();
    for (const ev of seqEvs) {
      const r = await store.appendToStream(streamNameOf(ev), [ev], { expectedRevision: rev });
      if (E.isLeft(r)) throw new Error(`baseline: ${JSON.stringify(r.left)}`);
      rev = r.right.nextExpectedRevision;
    }
    const rawSeq = o.requests / ((performance.now() - b0) / 1000);
    console.log(`${rawSeq.toFixed(0)}/s`);
    process.stdout.write('baseline: raw appends pipelined, no expectation… ');
    const pipeEvs = baselineEvents('raw-pipe');
    const p0 = performance.now();
    await appendAll(store, pipeEvs);
    const rawPipe = o.requests / ((performance.now() - p0) / 1000);
    console.log(`${rawPipe.toFixed(0)}/s`);

    const one = await phase('one', 1, 1);
    const many = await phase('many', o.nodes, 1);
    const two = await phase('two', o.nodes, 2);

    const rows = [
      ['phase', 'allocations/s', 'vs raw one-at-a-time', 'vs raw pipelined', 'conflicts', 'target', 'result'],
      ['one node, 1 instance', one.perS.toFixed(0), (one.perS / rawSeq).toFixed(2), (one.perS / rawPipe).toFixed(2), String(one.conflicts), `>= ${TARGET_PER_S}/s`, one.perS >= TARGET_PER_S ? 'PASS' : 'MISS'],
      [`${o.nodes} nodes, 1 instance`, many.perS.toFixed(0), (many.perS / rawSeq).toFixed(2), (many.perS / rawPipe).toFixed(2), String(many.conflicts), '-', '-'],
      [`${o.nodes} nodes, 2 instances`, two.perS.toFixed(0), (two.perS / rawSeq).toFixed(2), (two.perS / rawPipe).toFixed(2), String(two.conflicts), '-', '-'],
      ['baseline: raw, revision expected, one at a time', rawSeq.toFixed(0), '1.00', (rawSeq / rawPipe).toFixed(2), '-', '-', '-'],
      ['baseline: raw, pipelined', rawPipe.toFixed(0), (rawPipe / rawSeq).toFixed(2), '1.00', '-', '-', '-'],
    ];
    printTable(rows);
    console.log(
      `- ${o.requests} requests per phase, each decided and written as one event on its node's subject expecting the node's revision; ` +
        `the manager runs in this process (its real consumer and writer), the requests were in the log before it started.`,
    );
    printLoad(loadBefore);
    return 0;
  } finally {
    for (const m of managers) await m.stop().catch(() => undefined);
    for (const s of stores) await s.close().catch(() => undefined);
    await nats?.stop();
  }
}
