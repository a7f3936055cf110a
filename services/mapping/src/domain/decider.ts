/**
 * The mapping decider: what the service writes in answer to each input, given the state
 * before it. Pure and deterministic: the same state and input always give the same decisions
 * in the same order, which is what lets the adapter derive output ids from the input id and
 * rebuild its state by replaying the log.
 */
import { cidrContains, type EventOf, type PlacementRejectionReason } from '@vnet/events';
import { output, type MappingInput, type MappingOutput } from './messages';
import { addressKey, evolve, type MappingState, type Placement } from './state';

const NOTHING: readonly MappingOutput[] = [];

/** A host joins or re-registers: recorded by `evolve`, nothing to announce. */
export const decideHostRegistered = (_s: MappingState, _e: EventOf<'HostRegistered'>): readonly MappingOutput[] => NOTHING;

/** A drained host takes no new VMs; the ones it runs keep their mappings. */
export const decideHostDrained = (_s: MappingState, _e: EventOf<'HostDrained'>): readonly MappingOutput[] => NOTHING;

/** A network exists: recorded by `evolve`. */
export const decideNetworkCreated = (_s: MappingState, _e: EventOf<'NetworkCreated'>): readonly MappingOutput[] => NOTHING;

/** The two events that take one VM off its host, in order. */
function unmap(p: Placement, reason: 'vm-deleted' | 'host-removed'): MappingOutput[] {
  return [
    output('VmMappingRemoved', { vni: p.vni, ip: p.ip, vmId: p.vmId, hostId: p.hostId, reason }),
    output('HostVmDetached', { hostId: p.hostId, vmId: p.vmId, vni: p.vni, ip: p.ip }),
  ];
}

/** A host left for good: every VM on it loses its mapping (in VM id order). */
export function decideHostRemoved(s: MappingState, e: EventOf<'HostRemoved'>): readonly MappingOutput[] {
  const onHost = [...(s.byHost.get(e.payload.hostId) ?? [])].sort();
  return onHost.flatMap((vmId) => {
    const p = s.vms.get(vmId);
    return p ? unmap(p, 'host-removed') : [];
  });
}

/** Why a placement cannot be, or undefined when it can. */
function refusal(s: MappingState, e: EventOf<'VmPlaced'>): { reason: PlacementRejectionReason; detail: string } | undefined {
  const p = e.payload;
  const net = s.networks.get(p.networkId);
  if (!net) return { reason: 'unknown-network', detail: `network ${p.networkId} does not exist` };
  if (net.vni !== p.vni) return { reason: 'vni-mismatch', detail: `network ${p.networkId} has VNI ${net.vni}, not ${p.vni}` };
  if (!cidrContains(net.cidr, p.ip)) return { reason: 'ip-outside-cidr', detail: `${p.ip} is outside ${net.cidr} of network ${p.networkId}` };
  const host = s.hosts.get(p.hostId);
  if (!host) return { reason: 'unknown-host', detail: `host ${p.hostId} is not registered` };
  if (host.status === 'removed') return { reason: 'host-removed', detail: `host ${p.hostId} was removed` };
  if (host.status === 'drained') return { reason: 'host-drained', detail: `host ${p.hostId} is drained and takes no new VMs` };
  const placed = s.vms.get(p.vmId);
  if (placed) {
    return {
      reason: 'vm-already-placed',
      detail: `VM ${p.vmId} already has ${placed.ip} in VNI ${placed.vni} on host ${placed.hostId}; moving it is a migration`,
    };
  }
  const holder = s.byAddress.get(addressKey(p.vni, p.ip));
  if (holder !== undefined) return { reason: 'ip-in-use', detail: `${p.ip} in VNI ${p.vni} is already VM ${holder}` };
  return undefined;
}

/**
 * A VM placed on a host: a mapping on its VNI and an attachment on its host, or a rejection
 * that says why. The same placement again (a re-sent fact with a new id) changes nothing.
 */
export function decideVmPlaced(s: MappingState, e: EventOf<'VmPlaced'>): readonly MappingOutput[] {
  const p = e.payload;
  const placed = s.vms.get(p.vmId);
  if (placed && placed.vni === p.vni && placed.ip === p.ip && placed.hostId === p.hostId) return NOTHING;
  const no = refusal(s, e);
  if (no) {
    const { vmId, networkId, vni, ip, hostId } = p;
    return [output('VmPlacementRejected', { vmId, networkId, vni, ip, hostId, reason: no.reason, detail: no.detail })];
  }
  const underlay = s.hosts.get(p.hostId)!.underlay; // refusal() checked the host exists
  return [
    output('VmMappingAdded', { vni: p.vni, ip: p.ip, vmId: p.vmId, hostId: p.hostId, underlay }),
    output('HostVmAttached', { hostId: p.hostId, vmId: p.vmId, vni: p.vni, ip: p.ip }),
  ];
}

/** A VM is gone: its mapping and attachment go; a VM without a mapping needs nothing. */
export function decideVmDeleted(s: MappingState, e: EventOf<'VmDeleted'>): readonly MappingOutput[] {
  const p = s.vms.get(e.payload.vmId);
  return p ? unmap(p, 'vm-deleted') : NOTHING;
}

/**
 * The switch of a live migration: the VM's mapping moves to the target host, at the same
 * address (`VmMoved` on its VNI), the target runs it and the source no longer does. Only
 * when the VM is still where the migration found it and the target can take it (the
 * migration service checked; this is the locator's own word): else nothing, and the
 * migration service's deadline fails the migration with the VM where it was.
 */
export function decideMigrationSwitching(s: MappingState, e: EventOf<'MigrationSwitching'>): readonly MappingOutput[] {
  const p = e.payload;
  const placed = s.vms.get(p.vmId);
  const target = s.hosts.get(p.toHostId);
  if (!placed || placed.hostId !== p.fromHostId || placed.vni !== p.vni || placed.ip !== p.ip) return NOTHING;
  if (!target || target.status !== 'active') return NOTHING;
  const { vmId, vni, ip } = placed;
  return [
    output('VmMoved', {
      migrationId: p.migrationId,
      vmId,
      vni,
      ip,
      fromHostId: placed.hostId,
      toHostId: p.toHostId,
      fromUnderlay: placed.underlay,
      toUnderlay: target.underlay,
      graceMs: p.graceMs,
    }),
    output('HostVmAttached', { hostId: p.toHostId, vmId, vni, ip }),
    output('HostVmDetached', { hostId: placed.hostId, vmId, vni, ip }),
  ];
}

/** The decisions for one input event, given the state before it. */
export function decide(s: MappingState, e: MappingInput): readonly MappingOutput[] {
  switch (e.type) {
    case 'HostRegistered':
      return decideHostRegistered(s, e);
    case 'HostDrained':
      return decideHostDrained(s, e);
    case 'HostRemoved':
      return decideHostRemoved(s, e);
    case 'NetworkCreated':
      return decideNetworkCreated(s, e);
    case 'VmPlaced':
      return decideVmPlaced(s, e);
    case 'VmDeleted':
      return decideVmDeleted(s, e);
    case 'MigrationSwitching':
      return decideMigrationSwitching(s, e);
    default:
      return assertNever(e);
  }
}

/** The state after an input and its decisions: the input first, then each decision. */
export function applyDecision(s: MappingState, e: MappingInput, decisions: readonly MappingOutput[]): MappingState {
  let next = evolve(s, e);
  for (const d of decisions) next = evolve(next, d);
  return next;
}

function assertNever(x: never): never {
  throw new Error(`unhandled input ${JSON.stringify(x)}`);
}
