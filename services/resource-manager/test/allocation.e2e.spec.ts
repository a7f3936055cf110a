/**
 * The resource manager as processes against a real nats-server: 1,100 allocation requests
 * sent at once to one subnet of 1,021 usable addresses, first with one instance, then on
 * another subnet with two instances sharing the requests. Every address is handed out at most
 * once, never more than the subnet has, every request is decided exactly once (79 refused:
 * exhausted). Then deleting the project that owns a subnet releases every address, each
 * release an event, and deletes the subnet with it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { domainEventCodec, streamNameOf, type DomainEvent, type EventOf } from '@vnet/events';
import { eventFrom } from '@vnet/events/testing';
import type { EventStore } from '@vnet/eventstore';
import { startService, startTestNats, until, type ServiceProcess, type TestNats } from '@vnet/eventstore/testing';
import { vnetTopology } from '@vnet/topology';

const REQUESTS = 1100;
const CIDR = '10.64.0.0/22'; // 1,024 addresses: network, gateway and broadcast excluded
const USABLE = 1021;

let nats: TestNats;
let store: EventStore<DomainEvent>;
const managers: ServiceProcess[] = [];

const event = (type: string, payload: Record<string, unknown>): DomainEvent => eventFrom(type, payload);

/** Appends events, many at a time (each on its own subject, no expectation). */
async function publishAll(evs: readonly DomainEvent[]): Promise<void> {
  for (let i = 0; i < evs.length; i += 500) {
    const rs = await Promise.all(evs.slice(i, i + 500).map((ev) => store.appendToStream(streamNameOf(ev), [ev])));
    for (const r of rs) assert.ok(E.isRight(r), JSON.stringify(r));
  }
}

/** A project owning a subnet, and REQUESTS NICs using it. */
async function seed(project: string, subnet: string): Promise<void> {
  const p = { kind: 'project', id: project };
  const s = { kind: 'subnet', id: subnet };
  const evs = [
    event('ResourceNodeAdded', { node: p, capacity: { instances: 10_000 } }),
    event('ResourceNodeAdded', { node: s, capacity: { ips: CIDR } }),
    event('ResourceLinked', { from: p, to: s, relation: 'owns' }),
  ];
  for (let i = 0; i < REQUESTS; i++) {
    const nic = { kind: 'nic', id: `${subnet}-nic-${i}` };
    evs.push(event('ResourceNodeAdded', { node: nic, capacity: {} }), event('ResourceLinked', { from: nic, to: s, relation: 'uses' }));
  }
  await publishAll(evs);
}

/** The decisions on a node so far. */
async function decisionsOn(kind: string, id: string): Promise<DomainEvent[]> {
  const out: DomainEvent[] = [];
  for await (const r of store.readStream(`res.${kind}.${id}`)) out.push(r.event);
  return out;
}

/** Sends REQUESTS address requests at once and waits until each is decided; checks the outcome. */
async function allocateAll(subnet: string): Promise<Array<EventOf<'ResourceAllocated'>>> {
  const reqs = Array.from({ length: REQUESTS }, (_, i) =>
    event('AllocationRequested', { allocationId: `${subnet}-a${i}`, provider: { kind: 'subnet', id: subnet }, holder: { kind: 'nic', id: `${subnet}-nic-${i}` }, resource: 'ips', amount: 1 }),
  );
  await publishAll(reqs);
  await until(
    async () => {
      const d = (await decisionsOn('subnet', subnet)).filter((e) => e.type === 'ResourceAllocated' || e.type === 'AllocationRefused');
      return d.length >= REQUESTS ? true : undefined;
    },
    `${REQUESTS} decisions on subnet ${subnet}`,
    60_000,
  );
  // Settled: nothing more comes.
  await new Promise((r) => setTimeout(r, 300));
  const all = (await decisionsOn('subnet', subnet)).filter((e) => e.type === 'ResourceAllocated' || e.type === 'AllocationRefused');
  assert.equal(all.length, REQUESTS, 'each request decided exactly once');
  assert.equal(new Set(all.map((e) => (e as EventOf<'ResourceAllocated'>).payload.allocationId)).size, REQUESTS);
  const allocated = all.filter((e): e is EventOf<'ResourceAllocated'> => e.type === 'ResourceAllocated');
  const refused = all.filter((e): e is EventOf<'AllocationRefused'> => e.type === 'AllocationRefused');
  const ips: string[] = allocated.map((e) => e.payload.ip!);
  assert.equal(new Set(ips).size, ips.length, 'no address handed out twice');
  assert.equal(allocated.length, USABLE, 'every usable address handed out, no more');
  for (const ip of ips) assert.match(ip, /^10\.64\.[0-3]\.\d+$/);
  assert.ok(!ips.includes('10.64.0.0') && !ips.includes('10.64.0.1') && !ips.includes('10.64.3.255'), 'network, gateway and broadcast kept');
  assert.equal(refused.length, REQUESTS - USABLE);
  for (const r of refused) assert.equal(r.payload.reason, 'exhausted', r.payload.detail);
  return allocated;
}

const decided = async (m: ServiceProcess): Promise<number> => {
  const text = await (await fetch(`${m.health}/metrics`)).text();
  let n = 0;
  for (const k of ['allocated', 'refused']) n += Number(new RegExp(`^vnet_resource_decisions_total\\{[^}]*kind="${k}"[^}]*\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return n;
};

before(async () => {
  nats = await startTestNats(vnetTopology());
  store = await nats.connect(domainEventCodec, 'resource-e2e');
});

after(async () => {
  for (const m of managers) await m.stop();
  await store?.close();
  await nats?.stop();
});

describe('resource manager: concurrent allocations on one subnet', () => {
  it('one instance: 1,100 requests at once, 1,021 addresses each handed out once, 79 refused (exhausted)', async () => {
    await seed('p1', 's1');
    managers.push(await startService('resource-manager', nats.url));
    const t0 = Date.now();
    await allocateAll('s1');
    console.log(`one instance: ${REQUESTS} requests decided in ${Date.now() - t0} ms`);
  });

  it('two instances sharing the requests: the same outcome, and both decided some', async () => {
    await seed('p2', 's2');
    managers.push(await startService('resource-manager', nats.url));
    const before = await Promise.all(managers.map(decided));
    const t0 = Date.now();
    await allocateAll('s2');
    const after = await Promise.all(managers.map(decided));
    const shares = after.map((n, i) => n - before[i]!);
    console.log(`two instances: ${REQUESTS} requests decided in ${Date.now() - t0} ms, ${shares.join(' + ')} by each`);
    assert.ok(shares.every((n) => n > 0), `each instance decided some: ${shares.join(', ')}`);
  });

  it('deleting the project releases every address of its subnet (an event each) and deletes the subnet', async () => {
    await publishAll([event('ResourceDeletionRequested', { node: { kind: 'project', id: 'p1' }, reason: 'test: project closed' })]);
    const evs = await until(
      async () => {
        const d = await decisionsOn('subnet', 's1');
        return d.some((e) => e.type === 'ResourceNodeDeleted') ? d : undefined;
      },
      'subnet s1 deleted',
      30_000,
    );
    const released = evs.filter((e): e is EventOf<'ResourceReleased'> => e.type === 'ResourceReleased');
    assert.equal(released.length, USABLE);
    assert.ok(released.every((e) => e.payload.reason === 'provider-deleted'));
    const deleted = evs.find((e): e is EventOf<'ResourceNodeDeleted'> => e.type === 'ResourceNodeDeleted');
    assert.deepEqual(deleted?.payload.owner, { kind: 'project', id: 'p1' });
    const project = await until(async () => {
      const d = await decisionsOn('project', 'p1');
      return d.some((e) => e.type === 'ResourceNodeDeleted') ? d : undefined;
    }, 'project p1 deleted', 10_000);
    assert.equal(project.filter((e) => e.type === 'ResourceNodeDeleted').length, 1);
    // A request to the deleted subnet is refused, saying so.
    await publishAll([event('AllocationRequested', { allocationId: 'late', provider: { kind: 'subnet', id: 's1' }, holder: { kind: 'nic', id: 's1-nic-0' }, resource: 'ips', amount: 1 })]);
    const late = await until(async () => (await decisionsOn('subnet', 's1')).find((e): e is EventOf<'AllocationRefused'> => e.type === 'AllocationRefused' && e.payload.allocationId === 'late'), 'the late request decided', 10_000);
    assert.equal(late.payload.reason, 'node-deleted');
  });
});
