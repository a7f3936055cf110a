import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as E from 'fp-ts/lib/Either.js';
import {
  causedBy,
  Cidr,
  CURRENT_VERSIONS,
  decodeEvent,
  describeEvent,
  encodeEvent,
  EVENT_TYPES,
  EXTERNAL_EVENT_TYPES,
  HostId,
  Ipv4,
  IsoTimestamp,
  mustDecode,
  NetworkId,
  newEvent,
  ProjectId,
  streamNameOf,
  UnderlayAddress,
  VmId,
  Vni,
} from '../src/index';
import { arbitraryDomainEvent, arbitraryPayloadOf } from '../src/testing/arbitraries';

const vmPayload = {
  vmId: mustDecode(VmId, 'web-1'),
  networkId: mustDecode(NetworkId, 'net-a'),
  vni: mustDecode(Vni, 1001),
  ip: mustDecode(Ipv4, '10.0.0.5'),
  hostId: mustDecode(HostId, 'h1'),
};

describe('newEvent', () => {
  it('fills a fresh id, its own correlation id, no causation, now, and the current version', () => {
    const before = Date.now();
    const ev = newEvent('VmPlaced', vmPayload);
    assert.match(ev.id, /^[0-9a-f-]{36}$/);
    assert.equal(ev.correlationId, ev.id);
    assert.equal(ev.causationId, null);
    assert.equal(ev.schemaVersion, CURRENT_VERSIONS.VmPlaced);
    assert.ok(Date.parse(ev.occurredAt) >= before - 1 && Date.parse(ev.occurredAt) <= Date.now());
    assert.notEqual(newEvent('VmPlaced', vmPayload).id, ev.id);
  });
  it('takes causation, correlation and time from the options', () => {
    const cause = newEvent('NetworkCreated', {
      networkId: vmPayload.networkId,
      projectId: mustDecode(ProjectId, 'p1'),
      vni: vmPayload.vni,
      cidr: mustDecode(Cidr, '10.0.0.0/24'),
    });
    const at = mustDecode(IsoTimestamp, '2025-01-01T00:00:00Z');
    const ev = newEvent('VmPlaced', vmPayload, { ...causedBy(cause), occurredAt: at });
    assert.deepEqual([ev.causationId, ev.correlationId, ev.occurredAt], [cause.id, cause.id, at]);
    assert.equal(newEvent('VmDeleted', { vmId: vmPayload.vmId }, { occurredAt: new Date(0) }).occurredAt, '1970-01-01T00:00:00.000Z');
  });
  it('makes events that decode to themselves, for every type', () =>
    fc.assert(
      fc.property(fc.constantFrom(...EVENT_TYPES).chain((type) => arbitraryPayloadOf(type).map((p) => newEvent(type, p))), (ev) =>
        assert.deepEqual(decodeEvent(JSON.parse(JSON.stringify(encodeEvent(ev)))), E.right(ev)),
      ),
    ));
});

describe('streamNameOf', () => {
  it('names one stream per aggregate', () => {
    assert.equal(streamNameOf(newEvent('VmPlaced', vmPayload)), 'vm.web-1');
    assert.equal(streamNameOf(newEvent('VmDeleted', { vmId: vmPayload.vmId })), 'vm.web-1');
    assert.equal(streamNameOf(newEvent('HostRemoved', { hostId: vmPayload.hostId })), 'host.h1');
  });
  it('puts the mapping service outputs on per-VNI, per-host and per-VM streams', () => {
    const { vmId, vni, ip, hostId, networkId } = vmPayload;
    const underlay = mustDecode(UnderlayAddress, '127.0.1.1:6081');
    assert.equal(streamNameOf(newEvent('VmMappingAdded', { vni, ip, vmId, hostId, underlay })), 'vni.1001');
    assert.equal(streamNameOf(newEvent('VmMappingRemoved', { vni, ip, vmId, hostId, reason: 'vm-deleted' })), 'vni.1001');
    assert.equal(streamNameOf(newEvent('HostVmAttached', { hostId, vmId, vni, ip })), 'hostvms.h1');
    assert.equal(streamNameOf(newEvent('HostVmDetached', { hostId, vmId, vni, ip })), 'hostvms.h1');
    const rejected = newEvent('VmPlacementRejected', { vmId, networkId, vni, ip, hostId, reason: 'ip-in-use', detail: 'x' });
    assert.equal(streamNameOf(rejected), 'vm.web-1');
  });
  it('is always <context>.<id> with a subject-safe id', () =>
    fc.assert(
      fc.property(arbitraryDomainEvent, (ev) =>
        assert.match(streamNameOf(ev), /^((region|datacenter|host|network|vm|vni|hostvms|policy|hostkeys|hostrejects|hostvoids|migration|image|instances)\.[a-z0-9][a-z0-9_-]{0,62}|hostpairs\.[a-z0-9][a-z0-9_-]{0,62}\.[0-9]+-[0-9a-f]{8}-[0-9a-f]{8}|(res|resreq\.del)\.[a-z]+\.[a-z0-9][a-z0-9_-]{0,62}|resreq\.alloc\.[a-z0-9][a-z0-9_-]{0,62})$/),
      ),
    ));
});

describe('describeEvent', () => {
  it('gives the log-tail line', () => {
    assert.equal(describeEvent(newEvent('VmPlaced', vmPayload)), 'VmPlaced vm=web-1 vni=1001 ip=10.0.0.5 host=h1');
    assert.equal(describeEvent(newEvent('HostDrained', { hostId: vmPayload.hostId, reason: 'disk\nfull' })), 'HostDrained host=h1 reason="disk\\nfull"');
    const { vmId, vni, ip, hostId, networkId } = vmPayload;
    assert.equal(
      describeEvent(newEvent('VmPlacementRejected', { vmId, networkId, vni, ip, hostId, reason: 'host-drained', detail: 'h1 is drained' })),
      'VmPlacementRejected vm=web-1 net=net-a vni=1001 ip=10.0.0.5 host=h1 reason=host-drained detail="h1 is drained"',
    );
    assert.equal(describeEvent(newEvent('HostVmAttached', { hostId, vmId, vni, ip })), 'HostVmAttached host=h1 vm=web-1 vni=1001 ip=10.0.0.5');
  });
  it('is one line starting with the type, for any event', () =>
    fc.assert(
      fc.property(arbitraryDomainEvent, (ev) => {
        const line = describeEvent(ev);
        assert.ok(line.startsWith(`${ev.type} `), line);
        assert.ok(!/[\r\n]/.test(line), line);
      }),
    ));
});

describe('EXTERNAL_EVENT_TYPES', () => {
  it('holds the twenty-one public events', () =>
    assert.deepEqual([...EXTERNAL_EVENT_TYPES].sort(), [
      'AllocationRequested',
      'DatacenterDeclared',
      'HostDrained',
      'HostRegistered',
      'HostRemoved',
      'ImageReplicationRequested',
      'ImageUploaded',
      'InstancesRequested',
      'MigrationRequested',
      'NetworkCreated',
      'PolicyRuleRemoved',
      'PolicyRuleSet',
      'RegionDeclared',
      'ReleaseRequested',
      'ResourceDeletionRequested',
      'ResourceLinked',
      'ResourceNodeAdded',
      'VmDeleted',
      'VmKeyRotationRequested',
      'VmPlaced',
      'VmTagged',
    ]));
});
