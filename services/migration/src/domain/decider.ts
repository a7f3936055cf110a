/**
 * The migration decider: pure and deterministic, like the other services' deciders.
 *
 * - `MigrationRequested` → `MigrationStarted` (the VM is placed, the target is known, active,
 *   not the VM's host and has room, the VM is not already migrating), else `MigrationFailed`
 *   at step `requested` with the reason. The token issuer answers `MigrationStarted` by
 *   sharing the VM's key with the target (`VmKeyShared`), the target's agent by
 *   `MigrationTargetReady`.
 * - `MigrationTargetReady` once the key is shared → `MigrationSwitching` (with the grace
 *   period): the mapping service switches (`VmMoved`).
 * - `MigrationForwardingEnded` from the source after the switch → `MigrationCompleted`, with
 *   the blackout from the events (the switch to the first packet delivered at the target)
 *   and the packets lost: what the source dropped after the VM's port closed there plus what
 *   the target dropped before its first delivery.
 * - `MigrationDeadlinePassed` (the service's clock) while the migration is still at that
 *   step: before the switch → `MigrationFailed` (`target-unresponsive`; the VM never left its
 *   source, so it keeps working there); after it (the source never reported) →
 *   `MigrationCompleted` without the forwarding figure.
 */
import { mustDecode, NonNegativeInt, type EventOf, type MigrationFailureReason, type PositiveInt } from '@vnet/events';
import { output, type MigrationInput, type MigrationOutput } from './messages';
import { evolve, inProgress, load, type Migration, type MigrationState } from './state';

const NOTHING: readonly MigrationOutput[] = [];

function refuse(e: EventOf<'MigrationRequested'>, reason: MigrationFailureReason, detail: string): readonly MigrationOutput[] {
  const p = e.payload;
  return [output('MigrationFailed', { migrationId: p.migrationId, vmId: p.vmId, toHostId: p.toHostId, step: 'requested', reason, detail, rolledBack: false })];
}

function decideRequested(s: MigrationState, e: EventOf<'MigrationRequested'>): readonly MigrationOutput[] {
  const p = e.payload;
  if (s.migrations.has(p.migrationId) || s.refused.has(p.migrationId)) return NOTHING; // the same request again
  const vm = s.vms.get(p.vmId);
  if (!vm) return refuse(e, 'unknown-vm', `VM ${p.vmId} is not placed on any host`);
  const target = s.hosts.get(p.toHostId);
  if (!target) return refuse(e, 'unknown-host', `host ${p.toHostId} is not registered`);
  if (target.status === 'removed') return refuse(e, 'host-removed', `host ${p.toHostId} was removed`);
  if (target.status === 'drained') return refuse(e, 'host-drained', `host ${p.toHostId} is drained and takes no VMs`);
  if (vm.hostId === p.toHostId) return refuse(e, 'same-host', `VM ${p.vmId} already runs on ${p.toHostId}`);
  const running = s.active.get(p.vmId);
  if (running !== undefined) return refuse(e, 'already-migrating', `VM ${p.vmId} is already migrating (${running})`);
  const used = load(s, p.toHostId);
  if (target.capacity !== undefined && used >= target.capacity) {
    return refuse(e, 'out-of-capacity', `host ${p.toHostId} runs or receives ${used} VMs and has room for ${target.capacity}`);
  }
  const source = s.hosts.get(vm.hostId);
  if (!source) return refuse(e, 'unknown-host', `the VM's host ${vm.hostId} is not registered`);
  return [
    output('MigrationStarted', {
      migrationId: p.migrationId,
      vmId: p.vmId,
      vni: vm.vni,
      ip: vm.ip,
      fromHostId: vm.hostId,
      toHostId: p.toHostId,
      fromUnderlay: source.underlay,
      toUnderlay: target.underlay,
    }),
  ];
}

const fields = (m: Migration) => ({ migrationId: m.migrationId, vmId: m.vmId, vni: m.vni, ip: m.ip, fromHostId: m.fromHostId, toHostId: m.toHostId });

/** `source`: the source's report (forwarded, dropped), null when it never came. */
function completed(m: Migration, source: { readonly forwarded: number; readonly dropped?: number } | null): MigrationOutput {
  const first = m.steps.firstPacketAt;
  const switched = m.steps.switchedAt;
  const blackout = first !== null && switched !== null ? Math.max(0, Date.parse(first) - Date.parse(switched)) : null;
  return output('MigrationCompleted', {
    ...fields(m),
    steps: { ...m.steps },
    blackoutMs: blackout === null ? null : mustDecode(NonNegativeInt, blackout),
    forwarded: source === null ? null : mustDecode(NonNegativeInt, source.forwarded),
    // Lost as the data plane saw it: known once both hosts reported their drops.
    ...(source?.dropped !== undefined && m.targetDropped !== undefined ? { packetsLost: mustDecode(NonNegativeInt, source.dropped + m.targetDropped) } : {}),
  });
}

/** The decisions for one input, given the state before it; `graceMs` is how long the source forwards after the switch. */
export function decide(s: MigrationState, e: MigrationInput, graceMs: PositiveInt): readonly MigrationOutput[] {
  switch (e.type) {
    case 'MigrationRequested':
      return decideRequested(s, e);
    case 'MigrationTargetReady': {
      const m = s.migrations.get(e.payload.migrationId);
      if (!m || m.step !== 'key-shared' || e.payload.hostId !== m.toHostId) return NOTHING;
      return [output('MigrationSwitching', { ...fields(m), graceMs })];
    }
    case 'MigrationForwardingEnded': {
      const m = s.migrations.get(e.payload.migrationId);
      if (!m || m.step !== 'switched' || e.payload.hostId !== m.fromHostId) return NOTHING;
      // The first packet at the target is reported before the grace period ends, or never.
      return [completed({ ...m, steps: { ...m.steps, forwardingEndedAt: e.occurredAt } }, e.payload)];
    }
    case 'MigrationDeadlinePassed': {
      const m = s.migrations.get(e.payload.migrationId);
      if (!m || !inProgress(m)) return NOTHING;
      const p = e.payload;
      if (p.step === 'switched' && m.step === 'switched') return [completed(m, null)];
      // Once the switch is ordered the migration is committed; only a switch that never came
      // (the mapping service refused: the VM or the target changed meanwhile) fails it here.
      const atStep = p.step === 'started' ? m.step === 'started' : p.step === 'key-shared' ? m.step === 'key-shared' : m.step === 'switching';
      if (!atStep) return NOTHING;
      const waiting =
        p.step === 'started' ? 'the token issuer to share the key with it' : p.step === 'key-shared' ? 'its agent to be ready' : 'the mapping service to switch';
      return [
        output('MigrationFailed', {
          migrationId: m.migrationId,
          vmId: m.vmId,
          toHostId: m.toHostId,
          step: p.step === 'started' ? 'started' : 'key-shared',
          reason: 'target-unresponsive',
          detail: `no progress to host ${m.toHostId} after ${p.afterMs} ms waiting for ${waiting}; the VM stays on ${m.fromHostId}`,
          rolledBack: p.step !== 'started',
        }),
      ];
    }
    default:
      return NOTHING;
  }
}

/** The state after an input and its decisions (all at the input's time). */
export function applyDecision(s: MigrationState, e: MigrationInput, decisions: readonly MigrationOutput[]): MigrationState {
  let next = evolve(s, e, e.occurredAt);
  for (const d of decisions) next = evolve(next, d, e.occurredAt);
  return next;
}
