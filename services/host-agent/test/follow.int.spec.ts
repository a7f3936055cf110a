/**
 * The host agent's tables from a real log: it serves a VNI from its first local VM, folds
 * that VNI's mappings live, drops it with its last VM, and a restart from a snapshot reads
 * only the tail and ends with the same table hash as a full replay.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { domainEventCodec, streamNameOf, type DomainEvent } from '@vnet/events';
import { eventFrom } from '@vnet/events/testing';
import type { EventStore } from '@vnet/eventstore';
import { startTestNats, type TestNats } from '@vnet/eventstore/testing';
import { vnetTopology } from '@vnet/topology';
import { startFollowing } from '../src/adapters/follow';
import { tableHash } from '../src/domain/snapshot';
import { servedVnis, tableSize } from '../src/domain/table';

let nats: TestNats;
let store: EventStore<DomainEvent>;

const ev = (type: string, payload: Record<string, unknown>): DomainEvent => eventFrom(type, payload);
async function append(...events: DomainEvent[]) {
  for (const e of events) {
    const r = await store.appendToStream(streamNameOf(e), [e]);
    assert.ok(E.isRight(r), E.isLeft(r) ? JSON.stringify(r.left) : '');
  }
}
const attached = (hostId: string, vmId: string, vni: number, ip: string) => ev('HostVmAttached', { hostId, vmId, vni, ip });
const detached = (hostId: string, vmId: string, vni: number, ip: string) => ev('HostVmDetached', { hostId, vmId, vni, ip });
const mapping = (vni: number, ip: string, vmId: string, hostId: string) => ev('VmMappingAdded', { vni, ip, vmId, hostId, underlay: `127.0.1.${hostId.replace(/\D/g, '')}:6081` });

before(async () => {
  nats = await startTestNats(vnetTopology());
  store = await nats.connect(domainEventCodec, 'host-agent-test');
});
after(async () => nats?.stop());

describe('host agent tables from the log', () => {
  it('serves a VNI from its first local VM, follows it live, and drops it with the last', async () => {
    await append(mapping(2001, '10.5.0.2', 'far-1', 'h2'), mapping(2002, '10.6.0.2', 'far-2', 'h2'));
    const f = await startFollowing({ store, hostId: 'h1', useSnapshot: false, snapshotEvery: 0 });
    try {
      await append(attached('h1', 'near-1', 2001, '10.5.0.1'));
      await f.until((t) => t.vnis.get(2001)?.tunnels.has('10.5.0.2') === true);
      assert.deepEqual(servedVnis(f.tables()), [2001], 'only the VNI it has a VM in');
      await append(mapping(2001, '10.5.0.3', 'far-3', 'h3'));
      await f.until((t) => t.vnis.get(2001)?.tunnels.get('10.5.0.3')?.underlay === '127.0.1.3:6081');
      await append(detached('h1', 'near-1', 2001, '10.5.0.1'));
      await f.until((t) => servedVnis(t).length === 0);
      assert.equal(tableSize(f.tables()), 0);
    } finally {
      await f.stop();
    }
  });

  it('a restart from a snapshot reads only the tail and equals a full replay (by hash)', async () => {
    const events: DomainEvent[] = [attached('h7', 'vm-a', 3001, '10.7.0.1'), attached('h7', 'vm-b', 3002, '10.8.0.1')];
    for (let i = 2; i < 120; i++) events.push(mapping(3001 + (i % 2), `10.${7 + (i % 2)}.0.${i}`, `vm-${i}`, `h${1 + (i % 5)}`));
    await append(...events);
    const first = await startFollowing({ store, hostId: 'h7', snapshotEvery: 0 });
    await first.until((t) => tableSize(t) === 118);
    await first.snapshot();
    await first.stop();
    const tail = [mapping(3001, '10.7.1.1', 'late-1', 'h2'), mapping(3002, '10.8.1.1', 'late-2', 'h3'), detached('h7', 'vm-b', 3002, '10.8.0.1')];
    await append(...tail);

    const restarted = await startFollowing({ store, hostId: 'h7', snapshotEvery: 0 });
    const full = await startFollowing({ store, hostId: 'h7', useSnapshot: false, snapshotEvery: 0 });
    try {
      const done = (t: ReturnType<typeof restarted.tables>) => servedVnis(t).join() === '3001' && t.vnis.get(3001)!.tunnels.has('10.7.1.1');
      await Promise.all([restarted.until(done), full.until(done)]);
      assert.ok(restarted.restoredFrom > 0, 'restored from the snapshot');
      assert.ok(restarted.folded() <= tail.length, `read only the tail (${restarted.folded()} events)`);
      assert.ok(full.folded() > 50, `the full replay read VNI 3001's history (${full.folded()} events)`);
      assert.equal(tableHash(restarted.tables()), tableHash(full.tables()));
    } finally {
      await Promise.all([restarted.stop(), full.stop()]);
    }
  });
});
