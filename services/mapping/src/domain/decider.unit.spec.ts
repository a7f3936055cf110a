/**
 * The mapping decider, as given(events) / when(input) / then(decisions), grouped by state.
 * `given` replays inputs through the decider (a placement only counts once it is accepted).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  Cidr,
  DatacenterId,
  HostId,
  Ipv4,
  MigrationId,
  PositiveInt,
  mustDecode,
  NetworkId,
  newEvent,
  ProjectId,
  PublicKey,
  RegionId,
  UnderlayAddress,
  VmId,
  Vni,
  type PayloadOf,
} from '@vnet/events';
import { applyDecision, decide } from './decider';
import { isInput, type MappingInput, type MappingOutput } from './messages';
import { addressKey, initialState, type MappingState } from './state';

const host = (id: string) => mustDecode(HostId, id);
const vm = (id: string) => mustDecode(VmId, id);
const net = (id: string) => mustDecode(NetworkId, id);
const vni = (n: number) => mustDecode(Vni, n);
const ip = (s: string) => mustDecode(Ipv4, s);
const underlay = (s: string) => mustDecode(UnderlayAddress, s);

const hostRegistered = (id: string, at = `127.0.1.${id.replace(/\D/g, '') || 9}:6081`) =>
  newEvent('HostRegistered', {
    hostId: host(id),
    regionId: mustDecode(RegionId, 'r1'),
    datacenterId: mustDecode(DatacenterId, 'dc1'),
    underlay: underlay(at),
    publicKey: mustDecode(PublicKey, `${'A'.repeat(43)}=`),
  });
const hostDrained = (id: string) => newEvent('HostDrained', { hostId: host(id) });
const hostRemoved = (id: string) => newEvent('HostRemoved', { hostId: host(id) });
const networkCreated = (id: string, n: number, cidr: string) =>
  newEvent('NetworkCreated', { networkId: net(id), projectId: mustDecode(ProjectId, 'p1'), vni: vni(n), cidr: mustDecode(Cidr, cidr) });
const vmPlaced = (id: string, on: string, address: string, network = 'net-a', n = 1001) =>
  newEvent('VmPlaced', { vmId: vm(id), networkId: net(network), vni: vni(n), ip: ip(address), hostId: host(on) });
const vmDeleted = (id: string) => newEvent('VmDeleted', { vmId: vm(id) });

const added = (id: string, on: string, address: string, n = 1001, at = `127.0.1.${on.replace(/\D/g, '')}:6081`): MappingOutput => ({
  type: 'VmMappingAdded',
  payload: { vni: vni(n), ip: ip(address), vmId: vm(id), hostId: host(on), underlay: underlay(at) },
});
const attached = (id: string, on: string, address: string, n = 1001): MappingOutput => ({
  type: 'HostVmAttached',
  payload: { hostId: host(on), vmId: vm(id), vni: vni(n), ip: ip(address) },
});
const removed = (id: string, on: string, address: string, reason: 'vm-deleted' | 'host-removed', n = 1001): MappingOutput => ({
  type: 'VmMappingRemoved',
  payload: { vni: vni(n), ip: ip(address), vmId: vm(id), hostId: host(on), reason },
});
const detached = (id: string, on: string, address: string, n = 1001): MappingOutput => ({
  type: 'HostVmDetached',
  payload: { hostId: host(on), vmId: vm(id), vni: vni(n), ip: ip(address) },
});

const switching = (id: string, from: string, to: string, address: string, n = 1001) =>
  newEvent('MigrationSwitching', {
    migrationId: mustDecode(MigrationId, `m-${id}`),
    vmId: vm(id),
    vni: vni(n),
    ip: ip(address),
    fromHostId: host(from),
    toHostId: host(to),
    graceMs: mustDecode(PositiveInt, 2000),
  });

/** Replays inputs through the decider, as the service does. */
function given(...events: MappingInput[]): MappingState {
  let s = initialState();
  for (const e of events) s = applyDecision(s, e, decide(s, e));
  return s;
}
const when = (s: MappingState, e: MappingInput) => ({
  then: (...expected: MappingOutput[]) => assert.deepEqual(decide(s, e), expected),
  thenRejected: (reason: PayloadOf<'VmPlacementRejected'>['reason'], detail: RegExp) => {
    const out = decide(s, e);
    assert.equal(out.length, 1, JSON.stringify(out));
    const [r] = out;
    assert.equal(r!.type, 'VmPlacementRejected');
    const p = r!.payload as PayloadOf<'VmPlacementRejected'>;
    assert.equal(p.reason, reason);
    assert.match(p.detail, detail);
    if (e.type === 'VmPlaced') {
      const { vmId, networkId, vni: v, ip: i, hostId } = e.payload;
      assert.deepEqual({ vmId: p.vmId, networkId: p.networkId, vni: p.vni, ip: p.ip, hostId: p.hostId }, { vmId, networkId, vni: v, ip: i, hostId });
    }
  },
});

const world = () => [hostRegistered('h1'), hostRegistered('h2'), networkCreated('net-a', 1001, '10.0.0.0/24'), networkCreated('net-b', 1002, '10.0.0.0/24')];

describe('mapping decider', () => {
  describe('when nothing is known', () => {
    it('rejects a placement on an unknown network', () => when(given(), vmPlaced('web-1', 'h1', '10.0.0.5')).thenRejected('unknown-network', /net-a does not exist/));
    it('ignores a deletion of a VM it never mapped', () => when(given(), vmDeleted('web-1')).then());
    it('ignores the removal of a host it never saw', () => when(given(), hostRemoved('h9')).then());
    it('announces nothing for hosts and networks', () => {
      when(given(), hostRegistered('h1')).then();
      when(given(), networkCreated('net-a', 1001, '10.0.0.0/24')).then();
    });
  });

  describe('when the network exists', () => {
    const s = () => given(networkCreated('net-a', 1001, '10.0.0.0/24'));
    it('rejects an unregistered host', () => when(s(), vmPlaced('web-1', 'h1', '10.0.0.5')).thenRejected('unknown-host', /h1 is not registered/));
    it('rejects a VNI that is not the network\'s', () =>
      when(s(), vmPlaced('web-1', 'h1', '10.0.0.5', 'net-a', 7)).thenRejected('vni-mismatch', /has VNI 1001, not 7/));
    it('rejects an address outside the network\'s CIDR', () =>
      when(s(), vmPlaced('web-1', 'h1', '10.0.1.5')).thenRejected('ip-outside-cidr', /10\.0\.1\.5 is outside 10\.0\.0\.0\/24/));
    it('keeps the first definition of a network', () =>
      when(given(networkCreated('net-a', 1001, '10.0.0.0/24'), networkCreated('net-a', 5, '192.168.0.0/16'), hostRegistered('h1')), vmPlaced('web-1', 'h1', '10.0.0.5')).then(
        added('web-1', 'h1', '10.0.0.5'),
        attached('web-1', 'h1', '10.0.0.5'),
      ));
  });

  describe('when host and network exist', () => {
    it('maps the VM on its VNI and attaches it to its host', () =>
      when(given(...world()), vmPlaced('web-1', 'h1', '10.0.0.5')).then(added('web-1', 'h1', '10.0.0.5'), attached('web-1', 'h1', '10.0.0.5')));
    it('uses the underlay of the latest registration', () =>
      when(given(...world(), hostRegistered('h1', '192.0.2.1:6081')), vmPlaced('web-1', 'h1', '10.0.0.5')).then(
        added('web-1', 'h1', '10.0.0.5', 1001, '192.0.2.1:6081'),
        attached('web-1', 'h1', '10.0.0.5'),
      ));
    it('accepts the network and broadcast addresses too (both are inside the CIDR)', () =>
      when(given(...world()), vmPlaced('edge', 'h1', '10.0.0.255')).then(added('edge', 'h1', '10.0.0.255'), attached('edge', 'h1', '10.0.0.255')));
  });

  describe('when a VM is mapped', () => {
    const s = () => given(...world(), vmPlaced('web-1', 'h1', '10.0.0.5'));
    it('rejects another VM with the same address in the same VNI', () =>
      when(s(), vmPlaced('web-2', 'h2', '10.0.0.5')).thenRejected('ip-in-use', /10\.0\.0\.5 in VNI 1001 is already VM web-1/));
    it('accepts the same address in another VNI', () =>
      when(s(), vmPlaced('db-1', 'h2', '10.0.0.5', 'net-b', 1002)).then(added('db-1', 'h2', '10.0.0.5', 1002), attached('db-1', 'h2', '10.0.0.5', 1002)));
    it('changes nothing when the same placement comes again', () => when(s(), vmPlaced('web-1', 'h1', '10.0.0.5')).then());
    it('rejects a different placement of the same VM (that is a migration)', () =>
      when(s(), vmPlaced('web-1', 'h2', '10.0.0.6')).thenRejected('vm-already-placed', /already has 10\.0\.0\.5 .* on host h1/));
    it('removes the mapping and detaches the VM when it is deleted', () =>
      when(s(), vmDeleted('web-1')).then(removed('web-1', 'h1', '10.0.0.5', 'vm-deleted'), detached('web-1', 'h1', '10.0.0.5')));
  });

  describe('when a VM was deleted', () => {
    const s = () => given(...world(), vmPlaced('web-1', 'h1', '10.0.0.5'), vmDeleted('web-1'));
    it('frees its address for another VM', () =>
      when(s(), vmPlaced('web-2', 'h2', '10.0.0.5')).then(added('web-2', 'h2', '10.0.0.5'), attached('web-2', 'h2', '10.0.0.5')));
    it('ignores a second deletion', () => when(s(), vmDeleted('web-1')).then());
    it('may place the same VM id again', () =>
      when(s(), vmPlaced('web-1', 'h2', '10.0.0.9')).then(added('web-1', 'h2', '10.0.0.9'), attached('web-1', 'h2', '10.0.0.9')));
  });

  describe('when a placement was rejected', () => {
    const s = () => given(...world(), vmPlaced('web-1', 'h1', '10.0.9.5'));
    it('left no mapping behind: the VM is not there to delete', () => when(s(), vmDeleted('web-1')).then());
    it('left the address free', () => when(s(), vmPlaced('web-2', 'h1', '10.0.0.5')).then(added('web-2', 'h1', '10.0.0.5'), attached('web-2', 'h1', '10.0.0.5')));
  });

  describe('when the host is drained', () => {
    const s = () => given(...world(), vmPlaced('web-1', 'h1', '10.0.0.5'), hostDrained('h1'));
    it('rejects new placements on it', () => when(s(), vmPlaced('web-2', 'h1', '10.0.0.6')).thenRejected('host-drained', /h1 is drained/));
    it('keeps its VMs: one can still be deleted', () =>
      when(s(), vmDeleted('web-1')).then(removed('web-1', 'h1', '10.0.0.5', 'vm-deleted'), detached('web-1', 'h1', '10.0.0.5')));
    it('stays drained when the host registers again', () =>
      when(given(...world(), hostDrained('h1'), hostRegistered('h1')), vmPlaced('web-2', 'h1', '10.0.0.6')).thenRejected('host-drained', /drained/));
    it('still places on other hosts', () => when(s(), vmPlaced('web-2', 'h2', '10.0.0.6')).then(added('web-2', 'h2', '10.0.0.6'), attached('web-2', 'h2', '10.0.0.6')));
  });

  describe('when the host runs VMs and is removed', () => {
    const s = () => given(...world(), vmPlaced('web-2', 'h1', '10.0.0.6'), vmPlaced('web-1', 'h1', '10.0.0.5'), vmPlaced('db-1', 'h1', '10.0.0.7', 'net-b', 1002), vmPlaced('other', 'h2', '10.0.0.8'));
    it('removes every VM on it (in VM id order) and only those', () =>
      when(s(), hostRemoved('h1')).then(
        removed('db-1', 'h1', '10.0.0.7', 'host-removed', 1002),
        detached('db-1', 'h1', '10.0.0.7', 1002),
        removed('web-1', 'h1', '10.0.0.5', 'host-removed'),
        detached('web-1', 'h1', '10.0.0.5'),
        removed('web-2', 'h1', '10.0.0.6', 'host-removed'),
        detached('web-2', 'h1', '10.0.0.6'),
      ));
    const after = () => given(...world(), vmPlaced('web-1', 'h1', '10.0.0.5'), hostRemoved('h1'));
    it('then rejects placements on it, even after it registers again', () => {
      when(after(), vmPlaced('web-3', 'h1', '10.0.0.9')).thenRejected('host-removed', /h1 was removed/);
      when(given(...world(), hostRemoved('h1'), hostRegistered('h1')), vmPlaced('web-3', 'h1', '10.0.0.9')).thenRejected('host-removed', /removed/);
    });
    it('then has nothing left to remove', () => when(after(), hostRemoved('h1')).then());
    it('then has freed the addresses', () => when(after(), vmPlaced('web-9', 'h2', '10.0.0.5')).then(added('web-9', 'h2', '10.0.0.5'), attached('web-9', 'h2', '10.0.0.5')));
  });
});

describe('mapping decider properties', () => {
  const hosts = ['h1', 'h2', 'h3'];
  const input: fc.Arbitrary<MappingInput> = fc.oneof(
    fc.constantFrom(...hosts).map((h) => hostRegistered(h)),
    fc.constantFrom(...hosts).map(hostDrained),
    fc.constantFrom(...hosts).map(hostRemoved),
    fc.constantFrom(['net-a', 1001, '10.0.0.0/29'] as const, ['net-b', 1002, '10.0.0.0/29'] as const).map(([i, n, c]) => networkCreated(i, n, c)),
    fc
      .tuple(fc.constantFrom('v1', 'v2', 'v3', 'v4', 'v5'), fc.constantFrom(...hosts, 'h9'), fc.integer({ min: 0, max: 9 }), fc.constantFrom(['net-a', 1001] as const, ['net-b', 1002] as const, ['net-c', 1003] as const, ['net-a', 1002] as const))
      .map(([v, h, last, [network, n]]) => vmPlaced(v, h, `10.0.0.${last}`, network, n)),
    { arbitrary: fc.constantFrom('v1', 'v2', 'v3', 'v4', 'v5').map(vmDeleted), weight: 2 },
  );

  it('never maps two VMs to one address, nor a VM to a removed host, nor one outside its decisions', () =>
    fc.assert(
      fc.property(fc.array(input, { maxLength: 60 }), (events) => {
        let s = initialState();
        const live = new Map<string, string>();
        for (const e of events) {
          assert.ok(isInput(e));
          const out = decide(s, e);
          for (const d of out) {
            if (d.type === 'VmMappingAdded') live.set(d.payload.vmId, addressKey(d.payload.vni, d.payload.ip));
            if (d.type === 'VmMappingRemoved') assert.equal(live.delete(d.payload.vmId), true, 'removes only what was added');
          }
          s = applyDecision(s, e, out);
          const addresses = [...s.vms.values()].map((p) => addressKey(p.vni, p.ip));
          assert.equal(new Set(addresses).size, addresses.length, 'one VM per address');
          for (const p of s.vms.values()) assert.notEqual(s.hosts.get(p.hostId)?.status, 'removed');
          assert.deepEqual(new Map([...s.vms].map(([id, p]) => [id as string, addressKey(p.vni, p.ip)])), live);
        }
      }),
    ));

  it('is deterministic: two replays of the same inputs give the same decisions', () =>
    fc.assert(
      fc.property(fc.array(input, { maxLength: 60 }), (events) => {
        const run = () => {
          let s = initialState();
          return events.map((e) => {
            const out = decide(s, e);
            s = applyDecision(s, e, out);
            return out;
          });
        };
        assert.deepEqual(run(), run());
      }),
    ));
});

describe('a migration switch', () => {
  const base = [hostRegistered('h1'), hostRegistered('h2'), networkCreated('net-a', 1001, '10.0.0.0/24'), vmPlaced('a1', 'h1', '10.0.0.1')] as const;

  it('moves the mapping to the target at the same address, attaches there and detaches at the source', () =>
    when(given(...base), switching('a1', 'h1', 'h2', '10.0.0.1')).then(
      {
        type: 'VmMoved',
        payload: {
          migrationId: mustDecode(MigrationId, 'm-a1'),
          vmId: vm('a1'),
          vni: vni(1001),
          ip: ip('10.0.0.1'),
          fromHostId: host('h1'),
          toHostId: host('h2'),
          fromUnderlay: underlay('127.0.1.1:6081'),
          toUnderlay: underlay('127.0.1.2:6081'),
          graceMs: mustDecode(PositiveInt, 2000),
        },
      },
      attached('a1', 'h2', '10.0.0.1'),
      detached('a1', 'h1', '10.0.0.1'),
    ));

  it('leaves the VM on its new host in the state, so a second switch from the old host does nothing', () => {
    const s = given(...base, switching('a1', 'h1', 'h2', '10.0.0.1'));
    assert.equal(s.vms.get(vm('a1'))?.hostId, 'h2');
    assert.deepEqual([...(s.byHost.get(host('h2')) ?? [])], ['a1']);
    assert.equal(s.byHost.has(host('h1')), false);
    when(s, switching('a1', 'h1', 'h2', '10.0.0.1')).then();
  });

  it('does nothing when the target is drained or unknown, or the VM is elsewhere', () => {
    when(given(...base, hostDrained('h2')), switching('a1', 'h1', 'h2', '10.0.0.1')).then();
    when(given(...base), switching('a1', 'h1', 'h3', '10.0.0.1')).then();
    when(given(...base), switching('a1', 'h2', 'h1', '10.0.0.1')).then();
  });
});
