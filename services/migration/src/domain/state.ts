/**
 * The migration service's state: the hosts (status, underlay, capacity), where each VM is,
 * and every migration with the time of each of its steps. A fold over inputs and its own
 * decisions; like the other services' folds, `evolve` updates the state it is given.
 *
 * A migration goes: started → key-shared → (target ready) switching → switched → completed,
 * or failed at a step. The step times are the events' own times (`occurredAt`), so a
 * rebuild gives the same figures.
 */
import type { HostId, Ipv4, IsoTimestamp, MigrationId, MigrationSteps, UnderlayAddress, VmId, Vni } from '@vnet/events';
import type { MigrationInput, MigrationOutput } from './messages';

export type HostStatus = 'active' | 'drained' | 'removed';

export interface HostEntry {
  readonly underlay: UnderlayAddress;
  readonly status: HostStatus;
  /** How many VMs it takes (its CPU count: one VM counts one CPU until VMs have sizes); undefined: no limit. */
  readonly capacity: number | undefined;
}

export interface VmEntry {
  readonly vni: Vni;
  readonly ip: Ipv4;
  readonly hostId: HostId;
}

export type MigrationStep = 'started' | 'key-shared' | 'switching' | 'switched' | 'completed' | 'failed';

export interface Migration {
  readonly migrationId: MigrationId;
  readonly vmId: VmId;
  readonly vni: Vni;
  readonly ip: Ipv4;
  readonly fromHostId: HostId;
  readonly toHostId: HostId;
  readonly fromUnderlay: UnderlayAddress;
  readonly toUnderlay: UnderlayAddress;
  step: MigrationStep;
  readonly steps: { -readonly [K in keyof MigrationSteps]: MigrationSteps[K] };
  /** When the step it is at began (ms), for deadlines. */
  stepSince: number;
  /** Packets for the VM the target dropped before its first delivery (undefined: not reported). */
  targetDropped: number | undefined;
}

export interface MigrationState {
  readonly hosts: Map<HostId, HostEntry>;
  readonly vms: Map<VmId, VmEntry>;
  readonly migrations: Map<MigrationId, Migration>;
  /** VM → its migration in progress. */
  readonly active: Map<VmId, MigrationId>;
  /** Requests refused before starting (id → time), so a re-sent request is not decided twice. */
  readonly refused: Set<MigrationId>;
}

export const initialState = (): MigrationState => ({ hosts: new Map(), vms: new Map(), migrations: new Map(), active: new Map(), refused: new Set() });

/** In progress: not completed, not failed. */
export const inProgress = (m: Migration): boolean => m.step !== 'completed' && m.step !== 'failed';

/** VMs on a host plus the migrations under way to it. */
export function load(s: MigrationState, hostId: HostId): number {
  let n = 0;
  for (const vm of s.vms.values()) if (vm.hostId === hostId) n++;
  for (const id of s.active.values()) if (s.migrations.get(id)?.toHostId === hostId) n++;
  return n;
}

const RANK: Record<HostStatus, number> = { active: 0, drained: 1, removed: 2 };

const at = (iso: string): number => Date.parse(iso);

/** Folds an input or a decision (with the time of the event it came in or was decided on). */
export function evolve(s: MigrationState, f: MigrationInput | MigrationOutput, occurredAt: IsoTimestamp): MigrationState {
  switch (f.type) {
    case 'HostRegistered': {
      const p = f.payload;
      const known = s.hosts.get(p.hostId);
      s.hosts.set(p.hostId, { underlay: p.underlay, status: known?.status ?? 'active', capacity: p.capacity?.cpus });
      return s;
    }
    case 'HostDrained':
    case 'HostRemoved': {
      const known = s.hosts.get(f.payload.hostId);
      const status = f.type === 'HostDrained' ? 'drained' : 'removed';
      if (known && RANK[status] > RANK[known.status]) s.hosts.set(f.payload.hostId, { ...known, status });
      return s;
    }
    case 'VmMappingAdded':
      s.vms.set(f.payload.vmId, { vni: f.payload.vni, ip: f.payload.ip, hostId: f.payload.hostId });
      return s;
    case 'VmMappingRemoved':
      if (s.vms.get(f.payload.vmId)?.hostId === f.payload.hostId) s.vms.delete(f.payload.vmId);
      return s;
    case 'VmMoved': {
      const p = f.payload;
      const vm = s.vms.get(p.vmId);
      if (vm && vm.hostId === p.fromHostId) s.vms.set(p.vmId, { ...vm, hostId: p.toHostId });
      const m = s.migrations.get(p.migrationId);
      if (m && (m.step === 'switching' || m.step === 'key-shared')) {
        m.step = 'switched';
        m.steps.switchedAt = occurredAt;
        m.stepSince = at(occurredAt);
      }
      return s;
    }
    case 'MigrationRequested':
      return s; // only the decision counts
    case 'MigrationStarted': {
      const p = f.payload;
      s.migrations.set(p.migrationId, {
        ...p,
        step: 'started',
        steps: { requestedAt: occurredAt, startedAt: occurredAt, keySharedAt: null, targetReadyAt: null, switchedAt: null, firstPacketAt: null, forwardingEndedAt: null },
        stepSince: at(occurredAt),
        targetDropped: undefined,
      });
      s.active.set(p.vmId, p.migrationId);
      return s;
    }
    case 'VmKeyShared': {
      const m = s.migrations.get(f.payload.migrationId);
      if (m?.step === 'started' && f.payload.hostId === m.toHostId) {
        m.step = 'key-shared';
        m.steps.keySharedAt = occurredAt;
        m.stepSince = at(occurredAt);
      }
      return s;
    }
    case 'MigrationTargetReady': {
      const m = s.migrations.get(f.payload.migrationId);
      if (m && inProgress(m) && f.payload.hostId === m.toHostId && m.steps.targetReadyAt === null) m.steps.targetReadyAt = occurredAt;
      return s;
    }
    case 'MigrationSwitching': {
      const m = s.migrations.get(f.payload.migrationId);
      if (m?.step === 'key-shared') {
        m.step = 'switching';
        m.stepSince = at(occurredAt);
      }
      return s;
    }
    case 'MigrationTrafficArrived': {
      const m = s.migrations.get(f.payload.migrationId);
      if (m && f.payload.hostId === m.toHostId && m.steps.firstPacketAt === null) {
        m.steps.firstPacketAt = f.payload.firstPacketAt;
        m.targetDropped = f.payload.dropped;
      }
      return s;
    }
    case 'MigrationForwardingEnded': {
      const m = s.migrations.get(f.payload.migrationId);
      if (m && f.payload.hostId === m.fromHostId && m.steps.forwardingEndedAt === null) m.steps.forwardingEndedAt = occurredAt;
      return s;
    }
    case 'MigrationDeadlinePassed':
      return s;
    case 'MigrationCompleted':
    case 'MigrationFailed': {
      const m = s.migrations.get(f.payload.migrationId);
      if (m) {
        m.step = f.type === 'MigrationCompleted' ? 'completed' : 'failed';
        m.stepSince = at(occurredAt);
        if (s.active.get(m.vmId) === m.migrationId) s.active.delete(m.vmId);
      } else s.refused.add(f.payload.migrationId);
      return s;
    }
    default: {
      const never: never = f;
      return never;
    }
  }
}
