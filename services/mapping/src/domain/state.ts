/**
 * The mapping service's state: the host registry, the networks, and where every VM is.
 * A fold over its input events (hosts, networks) and its own decisions (mappings): inputs
 * `VmPlaced` / `VmDeleted` change nothing by themselves, only the decisions they lead to do,
 * so a rejected placement leaves no trace in the state.
 *
 * `evolve` is deterministic and total, but for O(1) per event at 100,000 VMs it updates the
 * state it is given and returns it: the caller hands the old state over and keeps only the
 * result (a persistent map would avoid that; JavaScript has none built in).
 */
import type { Cidr, HostId, Ipv4, NetworkId, UnderlayAddress, VmId, Vni } from '@vnet/events';
import type { MappingFact } from './messages';

/** A host's life: only moves forward (active → drained → removed). */
export type HostStatus = 'active' | 'drained' | 'removed';

/** What the service knows of a host. */
export interface HostEntry {
  readonly underlay: UnderlayAddress;
  readonly status: HostStatus;
}

/** What the service knows of a network. */
export interface NetworkEntry {
  readonly vni: Vni;
  readonly cidr: Cidr;
}

/** Where a VM is: one mapping. */
export interface Placement {
  readonly vmId: VmId;
  readonly vni: Vni;
  readonly ip: Ipv4;
  readonly hostId: HostId;
  readonly underlay: UnderlayAddress;
}

/** The whole state, with the indexes the decider needs. */
export interface MappingState {
  readonly hosts: Map<HostId, HostEntry>;
  readonly networks: Map<NetworkId, NetworkEntry>;
  readonly vms: Map<VmId, Placement>;
  /** `vni/ip` → the VM holding that virtual address. */
  readonly byAddress: Map<string, VmId>;
  /** Host → the VMs it runs. */
  readonly byHost: Map<HostId, Set<VmId>>;
}

/** The state before any event. */
export function initialState(): MappingState {
  return { hosts: new Map(), networks: new Map(), vms: new Map(), byAddress: new Map(), byHost: new Map() };
}

/** Key of a virtual address in {@link MappingState.byAddress}. */
export const addressKey = (vni: Vni, ip: Ipv4): string => `${vni}/${ip}`;

const RANK: Record<HostStatus, number> = { active: 0, drained: 1, removed: 2 };
const later = (a: HostStatus, b: HostStatus): HostStatus => (RANK[a] >= RANK[b] ? a : b);

/** Folds one input event or decision into the state (see the module comment on ownership). */
export function evolve(state: MappingState, fact: MappingFact): MappingState {
  switch (fact.type) {
    case 'HostRegistered': {
      // A re-registration updates the underlay for new mappings; it never un-drains or revives.
      const p = fact.payload;
      const known = state.hosts.get(p.hostId);
      state.hosts.set(p.hostId, { underlay: p.underlay, status: known?.status ?? 'active' });
      return state;
    }
    case 'HostDrained':
    case 'HostRemoved': {
      const known = state.hosts.get(fact.payload.hostId);
      if (known) {
        const status = fact.type === 'HostDrained' ? 'drained' : 'removed';
        state.hosts.set(fact.payload.hostId, { ...known, status: later(known.status, status) });
      }
      return state;
    }
    case 'NetworkCreated': {
      // The first definition of a network wins; a re-sent one changes nothing.
      const p = fact.payload;
      if (!state.networks.has(p.networkId)) state.networks.set(p.networkId, { vni: p.vni, cidr: p.cidr });
      return state;
    }
    case 'VmMappingAdded': {
      const p = fact.payload;
      state.vms.set(p.vmId, { vmId: p.vmId, vni: p.vni, ip: p.ip, hostId: p.hostId, underlay: p.underlay });
      state.byAddress.set(addressKey(p.vni, p.ip), p.vmId);
      let onHost = state.byHost.get(p.hostId);
      if (!onHost) state.byHost.set(p.hostId, (onHost = new Set()));
      onHost.add(p.vmId);
      return state;
    }
    case 'VmMappingRemoved': {
      const p = fact.payload;
      const placed = state.vms.get(p.vmId);
      if (!placed || placed.hostId !== p.hostId || placed.ip !== p.ip || placed.vni !== p.vni) return state;
      state.vms.delete(p.vmId);
      state.byAddress.delete(addressKey(p.vni, p.ip));
      const onHost = state.byHost.get(p.hostId);
      onHost?.delete(p.vmId);
      if (onHost?.size === 0) state.byHost.delete(p.hostId);
      return state;
    }
    case 'VmMoved': {
      // Same VM, same address, another host.
      const p = fact.payload;
      const placed = state.vms.get(p.vmId);
      if (!placed || placed.hostId !== p.fromHostId) return state;
      state.vms.set(p.vmId, { ...placed, hostId: p.toHostId, underlay: p.toUnderlay });
      const from = state.byHost.get(p.fromHostId);
      from?.delete(p.vmId);
      if (from?.size === 0) state.byHost.delete(p.fromHostId);
      let onHost = state.byHost.get(p.toHostId);
      if (!onHost) state.byHost.set(p.toHostId, (onHost = new Set()));
      onHost.add(p.vmId);
      return state;
    }
    case 'VmPlaced':
    case 'VmDeleted':
    case 'MigrationSwitching':
    // Only the decisions they lead to change the state.
    case 'VmPlacementRejected':
    case 'HostVmAttached':
    case 'HostVmDetached':
      // The host's VM set is kept from the mapping events, which carry the same facts.
      return state;
    default:
      return assertNever(fact);
  }
}

function assertNever(x: never): never {
  throw new Error(`unhandled fact ${JSON.stringify(x)}`);
}
