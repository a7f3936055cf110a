import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mustDecode, NodeRef, PositiveInt, type DomainEvent, type PayloadOf } from '@vnet/events';
import { decideAllocation, decideDeletion, decideRelease, orphanedAllocations, type Decision } from './decide';
import { emptyGraph, evolve, isGraphEvent, keyOf, type Graph } from './graph';

const node = (kind: string, id: string): NodeRef => mustDecode(NodeRef, { kind, id });
const SUBNET = node('subnet', 's1');
const HOST = node('host', 'h1');
const PROJECT = node('project', 'p1');
const nic = (i: number) => node('nic', `n${i}`);

let pos = 0;
/** Folds events (type + payload) as if stored one after the other. */
function fold(g: Graph, ...evs: Array<{ type: string; payload: unknown }>): Graph {
  for (const e of evs) {
    const ev = { ...e, schemaVersion: 1, id: `${++pos}`, causationId: null, correlationId: `${pos}`, occurredAt: new Date().toISOString() } as unknown as DomainEvent;
    if (isGraphEvent(ev)) evolve(g, ev, pos);
  }
  return g;
}
/** Folds a decision as written. */
const apply = (g: Graph, d: Decision | undefined): Decision => {
  assert.ok(d, 'a decision');
  fold(g, d);
  return d;
};
const req = (allocationId: string, provider: NodeRef, holder: NodeRef, resource: PayloadOf<'AllocationRequested'>['resource'], amount = 1) =>
  ({ allocationId, provider, holder, resource, amount: mustDecode(PositiveInt, amount) }) as PayloadOf<'AllocationRequested'>;

function world(): Graph {
  const g = emptyGraph();
  fold(
    g,
    { type: 'ResourceNodeAdded', payload: { node: SUBNET, capacity: { ips: '10.0.0.0/29' } } }, // 8 addresses: .2–.6 usable
    { type: 'ResourceNodeAdded', payload: { node: HOST, capacity: { cpus: 4, memoryMiB: 1024 } } },
    { type: 'ResourceNodeAdded', payload: { node: PROJECT, capacity: { instances: 2 } } },
    { type: 'ResourceLinked', payload: { from: PROJECT, to: SUBNET, relation: 'owns' } },
  );
  for (let i = 0; i < 8; i++) {
    fold(g, { type: 'ResourceNodeAdded', payload: { node: nic(i), capacity: {} } }, { type: 'ResourceLinked', payload: { from: nic(i), to: SUBNET, relation: 'uses' } });
  }
  return g;
}

describe('resource graph decisions', () => {
  it('hands out the usable addresses of a subnet once each, then refuses: exhausted', () => {
    const g = world();
    const ips = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const d = apply(g, decideAllocation(g, req(`a${i}`, SUBNET, nic(i), 'ips')));
      assert.equal(d.type, 'ResourceAllocated');
      ips.add((d.payload as PayloadOf<'ResourceAllocated'>).ip!);
    }
    assert.deepEqual([...ips].sort(), ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
    const full = decideAllocation(g, req('a5', SUBNET, nic(5), 'ips'));
    assert.equal(full?.type, 'AllocationRefused');
    assert.equal((full!.payload as PayloadOf<'AllocationRefused'>).reason, 'exhausted');
    // The same allocation again: nothing new.
    assert.equal(decideAllocation(g, req('a0', SUBNET, nic(0), 'ips')), undefined);
    // A released address is handed out again.
    apply(g, decideRelease(g, { allocationId: 'a2', provider: SUBNET } as never));
    const again = apply(g, decideAllocation(g, req('a6', SUBNET, nic(6), 'ips')));
    assert.equal((again.payload as PayloadOf<'ResourceAllocated'>).ip, '10.0.0.4');
    assert.equal(decideRelease(g, { allocationId: 'a2', provider: SUBNET } as never), undefined, 'released once');
  });

  it('hands out a given address when it is free and in range, else refuses: unavailable', () => {
    const g = world();
    const given = (id: string, i: number, ip: string) => decideAllocation(g, { ...req(id, SUBNET, nic(i), 'ips'), ip } as PayloadOf<'AllocationRequested'>);
    const d = apply(g, given('g1', 0, '10.0.0.5'));
    assert.equal(d.type === 'ResourceAllocated' && d.payload.ip, '10.0.0.5');
    for (const [ip, why] of [['10.0.0.5', /taken/], ['10.0.0.1', /not one of/], ['10.0.0.7', /not one of/], ['10.0.1.2', /not one of/]] as const) {
      const r = given(`g-${ip}`, 1, ip);
      assert.equal(r?.type === 'AllocationRefused' && r.payload.reason, 'unavailable');
      assert.match(r?.type === 'AllocationRefused' ? r.payload.detail : '', why);
    }
    // The next free address skips the one given.
    const next = [2, 3, 4].map((i) => apply(g, decideAllocation(g, req(`n${i}`, SUBNET, nic(i), 'ips'))));
    assert.ok(next.every((x) => x.type === 'ResourceAllocated' && x.payload.ip !== '10.0.0.5'));
  });

  it('refuses with the reason: unknown node, not linked, not provided, more than one address, over capacity', () => {
    const g = world();
    const reason = (d: Decision | undefined) => (d?.type === 'AllocationRefused' ? d.payload.reason : d?.type);
    assert.equal(reason(decideAllocation(g, req('x1', node('subnet', 'nope'), nic(0), 'ips'))), 'unknown-node');
    assert.equal(reason(decideAllocation(g, req('x2', SUBNET, node('nic', 'ghost'), 'ips'))), 'unknown-node');
    assert.equal(reason(decideAllocation(g, req('x3', HOST, nic(0), 'cpus'))), 'not-linked');
    fold(g, { type: 'ResourceLinked', payload: { from: nic(0), to: HOST, relation: 'uses' } });
    assert.equal(reason(decideAllocation(g, req('x4', HOST, nic(0), 'ips'))), 'not-provided');
    assert.equal(reason(decideAllocation(g, req('x5', SUBNET, nic(0), 'ips', 2))), 'bad-amount');
    apply(g, decideAllocation(g, req('x6', HOST, nic(0), 'cpus', 3)));
    assert.equal(reason(decideAllocation(g, req('x7', HOST, nic(0), 'cpus', 2))), 'exhausted');
    assert.equal(reason(decideAllocation(g, req('x8', HOST, nic(0), 'cpus', 1))), 'ResourceAllocated');
  });

  it('deleting an owner deletes what it owns, deepest first, releasing everything handed out and held', () => {
    const g = world();
    // p1 owns s1 (above); a VM owned by p1 holds an address and quota; a NIC holds an address.
    const vm = node('vm', 'v1');
    fold(
      g,
      { type: 'ResourceNodeAdded', payload: { node: vm, capacity: {} } },
      { type: 'ResourceLinked', payload: { from: PROJECT, to: vm, relation: 'owns' } },
      { type: 'ResourceLinked', payload: { from: vm, to: SUBNET, relation: 'uses' } },
    );
    apply(g, decideAllocation(g, req('q1', PROJECT, vm, 'instances')));
    apply(g, decideAllocation(g, req('ip-v1', SUBNET, vm, 'ips')));
    apply(g, decideAllocation(g, req('ip-n1', SUBNET, nic(1), 'ips')));
    const plan: string[] = [];
    for (let d = decideDeletion(g, PROJECT)[0]; d; d = decideDeletion(g, PROJECT)[0]) {
      apply(g, d);
      plan.push(d.type === 'ResourceReleased' ? `release ${d.payload.allocationId} (${d.payload.reason})` : `delete ${keyOf(d.node)}`);
      assert.ok(plan.length < 20);
    }
    // The VM's quota goes back when the VM goes: the project has nothing left to release.
    assert.deepEqual(plan, [
      'release ip-v1 (provider-deleted)',
      'release ip-n1 (provider-deleted)',
      'delete subnet/s1',
      'release q1 (holder-deleted)',
      'delete vm/v1',
      'delete project/p1',
    ]);
    for (const k of ['project/p1', 'subnet/s1', 'vm/v1']) assert.equal(g.nodes.get(k)?.deleted, true);
    assert.equal(g.nodes.get('subnet/s1')!.allocations.size, 0);
    assert.equal(g.nodes.get('project/p1')!.allocations.size, 0);
    assert.equal(g.held.size, 0, 'nothing held by anyone');
    assert.deepEqual(decideDeletion(g, PROJECT), [], 'deleting again does nothing');
  });

  it('an allocation that reached a deleted holder is released when seen', () => {
    const g = world();
    apply(g, decideAllocation(g, req('late', SUBNET, nic(3), 'ips')));
    fold(g, { type: 'ResourceNodeDeleted', payload: { node: nic(3) } });
    const ds = orphanedAllocations(g, nic(3));
    assert.equal(ds.length, 1);
    assert.equal(ds[0]!.type === 'ResourceReleased' && ds[0]!.payload.reason, 'holder-deleted');
  });
});
