import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeTables, encodeTables, tableHash } from './snapshot';
import { evolve, initialTables, servedVnis, tableSize, type TableEvent } from './table';

let pos = 0;
const at = <E extends Omit<TableEvent, 'position'>>(e: E) => ({ ...e, position: ++pos }) as TableEvent;
const attach = (vmId: string, vni: number, ip: string, hostId = 'h1') => at({ type: 'HostVmAttached', payload: { hostId, vmId, vni, ip } });
const detach = (vmId: string, vni: number, ip: string, hostId = 'h1') => at({ type: 'HostVmDetached', payload: { hostId, vmId, vni, ip } });
const added = (vni: number, ip: string, vmId: string, hostId: string) =>
  at({ type: 'VmMappingAdded', payload: { vni, ip, vmId, hostId, underlay: `127.0.1.${hostId.slice(1)}:6081` } });
const removed = (vni: number, ip: string, vmId: string, hostId: string) => at({ type: 'VmMappingRemoved', payload: { vni, ip, vmId, hostId } });
const fold = (events: TableEvent[], hostId = 'h1') => events.reduce(evolve, initialTables(hostId));

describe('host tables', () => {
  describe('when the host has no VM in a VNI', () => {
    it('ignores that VNI\'s mappings', () => {
      const s = fold([added(1001, '10.1.0.5', 'a', 'h2')]);
      assert.equal(tableSize(s), 0);
      assert.deepEqual(servedVnis(s), []);
    });
    it('ignores VMs attached to another host', () => {
      assert.deepEqual(servedVnis(fold([attach('x', 1001, '10.1.0.9', 'h2')])), []);
    });
  });

  describe('when a local VM is attached', () => {
    it('serves its VNI and folds its mappings, each VNI on its own', () => {
      const s = fold([
        attach('a', 1001, '10.1.0.5'),
        attach('b', 1002, '10.1.0.5'),
        added(1001, '10.1.0.5', 'a', 'h1'),
        added(1001, '10.1.0.6', 'c', 'h2'),
        added(1002, '10.1.0.5', 'b', 'h1'),
        added(1003, '10.1.0.7', 'z', 'h3'),
      ]);
      assert.deepEqual(servedVnis(s), [1001, 1002]);
      assert.equal(s.vnis.get(1001)?.tunnels.get('10.1.0.6')?.underlay, '127.0.1.2:6081');
      assert.equal(s.vnis.get(1002)?.tunnels.get('10.1.0.5')?.vmId, 'b', 'overlapping IPs stay apart per VNI');
      assert.equal(tableSize(s), 3);
    });
    it('removes a mapping only for the VM it names', () => {
      const s = fold([attach('a', 1001, '10.1.0.5'), added(1001, '10.1.0.6', 'c', 'h2'), removed(1001, '10.1.0.6', 'old-vm', 'h2')]);
      assert.equal(tableSize(s), 1);
      const t = fold([attach('a', 1001, '10.1.0.5'), added(1001, '10.1.0.6', 'c', 'h2'), removed(1001, '10.1.0.6', 'c', 'h2')]);
      assert.equal(tableSize(t), 0);
    });
    it('is idempotent: an event delivered twice changes nothing', () => {
      const e = added(1001, '10.1.0.6', 'c', 'h2');
      const once = fold([attach('a', 1001, '10.1.0.5'), e]);
      const h = tableHash(once);
      assert.equal(tableHash(evolve(once, e)), h);
    });
  });

  describe('when the last local VM of a VNI leaves', () => {
    it('drops the VNI and its table, keeping the others', () => {
      const s = fold([
        attach('a', 1001, '10.1.0.5'),
        attach('b', 1001, '10.1.0.8'),
        attach('c', 1002, '10.2.0.5'),
        added(1001, '10.1.0.6', 'x', 'h2'),
        detach('a', 1001, '10.1.0.5'),
      ]);
      assert.deepEqual(servedVnis(s), [1001, 1002], 'b still runs in 1001');
      const t = evolve(s, detach('b', 1001, '10.1.0.8'));
      assert.deepEqual(servedVnis(t), [1002]);
      assert.equal(tableSize(t), 0);
    });
  });

  describe('snapshots', () => {
    const event = fc.oneof(
      fc.record({ kind: fc.constantFrom('attach', 'detach'), vm: fc.constantFrom('a', 'b', 'c'), vni: fc.constantFrom(1, 2), host: fc.constantFrom('h1', 'h2') }),
      fc.record({ kind: fc.constantFrom('add', 'remove'), vm: fc.constantFrom('a', 'b', 'c', 'd'), vni: fc.constantFrom(1, 2, 3), host: fc.constantFrom('h1', 'h2', 'h3'), ip: fc.integer({ min: 1, max: 6 }) }),
    );
    const toEvent = (r: { kind: string; vm: string; vni: number; host: string; ip?: number }, position: number): TableEvent => {
      const ip = `10.0.0.${r.ip ?? r.vm.charCodeAt(0) - 96}`;
      if (r.kind === 'attach') return { type: 'HostVmAttached', payload: { hostId: r.host, vmId: r.vm, vni: r.vni, ip }, position };
      if (r.kind === 'detach') return { type: 'HostVmDetached', payload: { hostId: r.host, vmId: r.vm, vni: r.vni, ip }, position };
      if (r.kind === 'add') return { type: 'VmMappingAdded', payload: { vni: r.vni, ip, vmId: r.vm, hostId: r.host, underlay: `${r.host}:6081` }, position };
      return { type: 'VmMappingRemoved', payload: { vni: r.vni, ip, vmId: r.vm, hostId: r.host }, position };
    };

    it('property: snapshot at any point + the tail gives the same table hash as a full replay', () => {
      fc.assert(
        fc.property(fc.array(event, { maxLength: 60 }), fc.nat(), (raw, cut) => {
          const events = raw.map((r, i) => toEvent(r, i + 1));
          const k = events.length === 0 ? 0 : cut % (events.length + 1);
          const full = events.reduce(evolve, initialTables('h1'));
          const snap = encodeTables(events.slice(0, k).reduce(evolve, initialTables('h1')));
          const resumed = events.slice(k).reduce(evolve, decodeTables(snap));
          assert.equal(tableHash(resumed), tableHash(full));
          assert.deepEqual(Buffer.from(encodeTables(resumed)), Buffer.from(encodeTables(full)));
        }),
      );
    });

    it('property: replaying twice gives the same hash (determinism)', () => {
      fc.assert(
        fc.property(fc.array(event, { maxLength: 60 }), (raw) => {
          const events = raw.map((r, i) => toEvent(r, i + 1));
          assert.equal(tableHash(events.reduce(evolve, initialTables('h1'))), tableHash(events.reduce(evolve, initialTables('h1'))));
        }),
      );
    });
  });
});
