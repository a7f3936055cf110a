/**
 * The migration decider, given(events) / when(input) / then(decisions): refusals with their
 * reasons, the happy path step by step, and the deadlines.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DatacenterId,
  HostId,
  Ipv4,
  MigrationId,
  mustDecode,
  newEvent,
  NonNegativeInt,
  PositiveInt,
  PublicKey,
  RegionId,
  U32,
  UnderlayAddress,
  VmId,
  Vni,
  type IsoTimestamp,
  type PayloadOf,
} from '@vnet/events';
import { applyDecision, decide } from './decider';
import type { MigrationInput } from './messages';
import { initialState, type MigrationState } from './state';

const GRACE = mustDecode(PositiveInt, 2000);
const host = (id: string) => mustDecode(HostId, id);
const vm = (id: string) => mustDecode(VmId, id);
const mig = (id: string) => mustDecode(MigrationId, id);
const underlay = (h: string) => mustDecode(UnderlayAddress, `127.0.1.${h.replace(/\D/g, '')}:6081`);
const at = (ms: number) => ({ occurredAt: new Date(Date.UTC(2026, 10, 25, 0, 0, 0, ms)) });

const registered = (id: string, cpus?: number) =>
  newEvent('HostRegistered', {
    hostId: host(id),
    regionId: mustDecode(RegionId, 'r1'),
    datacenterId: mustDecode(DatacenterId, 'dc1'),
    underlay: underlay(id),
    publicKey: mustDecode(PublicKey, `${'A'.repeat(43)}=`),
    ...(cpus === undefined ? {} : { capacity: { cpus: mustDecode(PositiveInt, cpus), memoryMiB: mustDecode(PositiveInt, 1024) } }),
  });
const mapped = (id: string, on: string, ip: string) =>
  newEvent('VmMappingAdded', { vni: mustDecode(Vni, 1001), ip: mustDecode(Ipv4, ip), vmId: vm(id), hostId: host(on), underlay: underlay(on) });
const requested = (id: string, v: string, to: string) => newEvent('MigrationRequested', { migrationId: mig(id), vmId: vm(v), toHostId: host(to) }, at(0));

function given(...events: MigrationInput[]): MigrationState {
  let s = initialState();
  for (const e of events) s = applyDecision(s, e, decide(s, e, GRACE));
  return s;
}

const failure = (s: MigrationState, e: MigrationInput): PayloadOf<'MigrationFailed'> => {
  const out = decide(s, e, GRACE);
  assert.equal(out.length, 1, JSON.stringify(out));
  assert.equal(out[0]!.type, 'MigrationFailed');
  return out[0]!.payload as PayloadOf<'MigrationFailed'>;
};

const base = [registered('h1'), registered('h2'), registered('h3', 1), mapped('a1', 'h1', '10.0.0.1'), mapped('b1', 'h3', '10.0.0.2')] as const;

describe('a migration request', () => {
  it('is refused with the reason when the VM or the target cannot', () => {
    const s = given(...base, newEvent('HostDrained', { hostId: host('h2') }));
    assert.equal(failure(s, requested('m1', 'nobody', 'h2')).reason, 'unknown-vm');
    assert.equal(failure(s, requested('m2', 'a1', 'h9')).reason, 'unknown-host');
    assert.equal(failure(s, requested('m3', 'a1', 'h2')).reason, 'host-drained');
    assert.equal(failure(s, requested('m4', 'a1', 'h1')).reason, 'same-host');
    assert.equal(failure(s, requested('m5', 'a1', 'h3')).reason, 'out-of-capacity');
    const f = failure(s, requested('m6', 'a1', 'h3'));
    assert.equal(f.step, 'requested');
    assert.equal(f.rolledBack, false);
    assert.match(f.detail, /room for 1/);
  });

  it('is refused while the VM is already migrating, and a re-sent request changes nothing', () => {
    const s = given(...base, requested('m1', 'a1', 'h2'));
    assert.equal(failure(s, requested('m2', 'a1', 'h2')).reason, 'already-migrating');
    assert.deepEqual(decide(s, requested('m1', 'a1', 'h2'), GRACE), []);
  });

  it('goes started → key shared → target ready → switching → switched → completed, with the blackout from the events', () => {
    let s = given(...base);
    const start = decide(s, requested('m1', 'a1', 'h2'), GRACE);
    assert.equal(start[0]?.type, 'MigrationStarted');
    assert.deepEqual({ ...start[0]!.payload }, {
      migrationId: 'm1', vmId: 'a1', vni: 1001, ip: '10.0.0.1', fromHostId: 'h1', toHostId: 'h2', fromUnderlay: '127.0.1.1:6081', toUnderlay: '127.0.1.2:6081',
    });
    s = given(...base, requested('m1', 'a1', 'h2'));
    const shared = newEvent('VmKeyShared', {
      migrationId: mig('m1'), vmId: vm('a1'), hostId: host('h2'), keyId: mustDecode(U32, 1), vni: mustDecode(Vni, 1001), ip: mustDecode(Ipv4, '10.0.0.1'),
      fromUnderlay: underlay('h1'), sealedForHost: { epk: `${'A'.repeat(43)}=`, nonce: 'AAAA', box: 'AAAA' } as never,
    }, at(10));
    s = applyDecision(s, shared, decide(s, shared, GRACE));
    const ready = newEvent('MigrationTargetReady', { migrationId: mig('m1'), vmId: vm('a1'), hostId: host('h2'), keyId: mustDecode(U32, 1) }, at(15));
    const switching = decide(s, ready, GRACE);
    assert.equal(switching[0]?.type, 'MigrationSwitching');
    assert.equal((switching[0]!.payload as PayloadOf<'MigrationSwitching'>).graceMs, 2000);
    s = applyDecision(s, ready, switching);
    const moved = newEvent('VmMoved', {
      migrationId: mig('m1'), vmId: vm('a1'), vni: mustDecode(Vni, 1001), ip: mustDecode(Ipv4, '10.0.0.1'), fromHostId: host('h1'), toHostId: host('h2'),
      fromUnderlay: underlay('h1'), toUnderlay: underlay('h2'), graceMs: GRACE,
    }, at(20));
    s = applyDecision(s, moved, decide(s, moved, GRACE));
    const arrived = newEvent('MigrationTrafficArrived', { migrationId: mig('m1'), vmId: vm('a1'), hostId: host('h2'), firstPacketAt: new Date(Date.UTC(2026, 10, 25, 0, 0, 0, 32)).toISOString() as IsoTimestamp, dropped: mustDecode(NonNegativeInt, 2) }, at(33));
    s = applyDecision(s, arrived, decide(s, arrived, GRACE));
    const endFwd = newEvent('MigrationForwardingEnded', { migrationId: mig('m1'), vmId: vm('a1'), hostId: host('h1'), forwarded: mustDecode(NonNegativeInt, 7), dropped: mustDecode(NonNegativeInt, 3) }, at(2020));
    // Without the source's drop count the loss is not known.
    const { dropped: _, ...withoutDrops } = endFwd.payload;
    const unknownLoss = decide(s, { ...endFwd, payload: withoutDrops }, GRACE)[0]!.payload as PayloadOf<'MigrationCompleted'>;
    assert.equal(unknownLoss.packetsLost, undefined);
    const done = decide(s, endFwd, GRACE);
    assert.equal(done[0]?.type, 'MigrationCompleted');
    const p = done[0]!.payload as PayloadOf<'MigrationCompleted'>;
    assert.equal(p.blackoutMs, 12);
    assert.equal(p.forwarded, 7);
    assert.equal(p.packetsLost, 5, 'dropped at the source (3) and at the target (2)');
    assert.ok(p.steps.keySharedAt && p.steps.targetReadyAt && p.steps.switchedAt && p.steps.firstPacketAt && p.steps.forwardingEndedAt);
    s = applyDecision(s, endFwd, done);
    assert.equal(s.active.size, 0);
    assert.equal(s.vms.get(vm('a1'))?.hostId, 'h2');
  });

  it('fails (rolled back) when the target is not ready before its deadline, and the VM stays', () => {
    const shared = newEvent('VmKeyShared', {
      migrationId: mig('m1'), vmId: vm('a1'), hostId: host('h2'), keyId: mustDecode(U32, 1), vni: mustDecode(Vni, 1001), ip: mustDecode(Ipv4, '10.0.0.1'),
      fromUnderlay: underlay('h1'), sealedForHost: { epk: `${'A'.repeat(43)}=`, nonce: 'AAAA', box: 'AAAA' } as never,
    });
    const s = given(...base, requested('m1', 'a1', 'h2'), shared);
    const late = newEvent('MigrationDeadlinePassed', { migrationId: mig('m1'), step: 'key-shared', afterMs: mustDecode(PositiveInt, 5000) });
    const f = failure(s, late);
    assert.equal(f.reason, 'target-unresponsive');
    assert.equal(f.rolledBack, true);
    const after = applyDecision(s, late, decide(s, late, GRACE));
    assert.equal(after.vms.get(vm('a1'))?.hostId, 'h1');
    assert.equal(after.active.size, 0);
    // A deadline for a step the migration has left changes nothing.
    assert.deepEqual(decide(after, late, GRACE), []);
  });
});
