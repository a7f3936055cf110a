import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { desiredFrom } from '../src/domain/desired';
import { evolve, initialTables, type TableEvent } from '../src/domain/table';

let pos = 0;
const at = (e: Omit<TableEvent, 'position'>): TableEvent => ({ ...e, position: ++pos }) as TableEvent;
const attach = (vmId: string, vni: number, ip: string, hostId = 'h1') => at({ type: 'HostVmAttached', payload: { hostId, vmId, vni, ip } });
const detach = (vmId: string, vni: number, ip: string, hostId = 'h1') => at({ type: 'HostVmDetached', payload: { hostId, vmId, vni, ip } });
const added = (vni: number, ip: string, vmId: string, hostId: string) =>
  at({ type: 'VmMappingAdded', payload: { vni, ip, vmId, hostId, underlay: `127.0.1.${hostId.slice(1)}:6081` } });

describe('desiredFrom', () => {
  it('is empty for empty tables', () => {
    const d = desiredFrom(initialTables('h1'));
    assert.deepEqual(d.vms, []);
    assert.equal(d.tunnels.size, 0);
  });

  it('lists the local VMs sorted by id and the tunnel table of each served VNI', () => {
    const s = [
      attach('vm-b', 1002, '10.0.0.1'),
      attach('vm-a', 1001, '10.0.0.1'),
      attach('vm-x', 1001, '10.0.0.9', 'h2'),
      added(1001, '10.0.0.1', 'vm-a', 'h1'),
      added(1001, '10.0.0.2', 'vm-c', 'h2'),
      added(1002, '10.0.0.1', 'vm-b', 'h1'),
      added(1003, '10.0.0.1', 'vm-z', 'h3'),
    ].reduce(evolve, initialTables('h1'));
    const d = desiredFrom(s);
    assert.deepEqual(d.vms, [
      { vmId: 'vm-a', vni: 1001, ip: '10.0.0.1' },
      { vmId: 'vm-b', vni: 1002, ip: '10.0.0.1' },
    ]);
    assert.deepEqual([...d.tunnels.keys()].sort(), [1001, 1002]);
    assert.deepEqual(d.tunnels.get(1001)?.get('10.0.0.2'), { vmId: 'vm-c', hostId: 'h2', underlay: '127.0.1.2:6081' });
    assert.equal(d.tunnels.get(1002)?.size, 1);
  });

  it('is a copy: folding later events does not change a desired state already taken', () => {
    let s = [attach('vm-a', 1001, '10.0.0.1'), added(1001, '10.0.0.2', 'vm-c', 'h2')].reduce(evolve, initialTables('h1'));
    const d = desiredFrom(s);
    s = [added(1001, '10.0.0.3', 'vm-d', 'h3'), attach('vm-e', 1001, '10.0.0.5'), detach('vm-a', 1001, '10.0.0.1')].reduce(evolve, s);
    assert.deepEqual(d.vms, [{ vmId: 'vm-a', vni: 1001, ip: '10.0.0.1' }]);
    assert.deepEqual([...(d.tunnels.get(1001)?.keys() ?? [])], ['10.0.0.2']);
    assert.deepEqual(desiredFrom(s).vms, [{ vmId: 'vm-e', vni: 1001, ip: '10.0.0.5' }]);
  });
});
