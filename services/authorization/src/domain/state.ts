/**
 * The authorization service's state: which VM holds which virtual address (from the mapping
 * service's decisions), the network of each VNI, VM tags, the policy rules with their
 * version, and the live pairs (authorised, not revoked). A fold over its inputs and its own
 * decisions; like the mapping service's state, `evolve` updates the state it is given.
 */
import type { HostId, Ipv4, NetworkId, PairId, RuleId, Tag, UnderlayAddress, VmId, Vni } from '@vnet/events';
import type { AuthFact } from './messages';
import type { Rule, VmFacts } from './policy';

/** Where a VM is. */
export interface VmEntry {
  readonly vmId: VmId;
  readonly vni: Vni;
  readonly ip: Ipv4;
  readonly hostId: HostId;
  readonly underlay: UnderlayAddress;
}

/** An authorised pair that has not been revoked. */
export interface LivePair {
  readonly pairId: PairId;
  /** The source host (the pair's events live on its subject). */
  readonly hostId: HostId;
  readonly vni: Vni;
  readonly srcVmId: VmId;
  readonly srcIp: Ipv4;
  readonly dstIp: Ipv4;
  readonly dstVmId: VmId;
  /** The rule that allowed it (null: the same-network default). */
  readonly ruleId: RuleId | null;
}

export interface AuthState {
  /** VNI → its network. */
  readonly networks: Map<number, NetworkId>;
  readonly vms: Map<VmId, VmEntry>;
  /** `vni/ip` → the VM holding that address. */
  readonly byAddress: Map<string, VmId>;
  readonly tags: Map<VmId, ReadonlySet<Tag>>;
  readonly rules: Map<RuleId, Rule>;
  /** How many policy changes have been folded: the version decisions name. */
  policyVersion: number;
  readonly pairs: Map<PairId, LivePair>;
  /** VM → the live pairs it is the source or destination of. */
  readonly pairsByVm: Map<VmId, Set<PairId>>;
}

export const initialState = (): AuthState => ({
  networks: new Map(),
  vms: new Map(),
  byAddress: new Map(),
  tags: new Map(),
  rules: new Map(),
  policyVersion: 0,
  pairs: new Map(),
  pairsByVm: new Map(),
});

export const addressKey = (vni: number, ip: string): string => `${vni}/${ip}`;

const NO_TAGS: ReadonlySet<Tag> = new Set();

/** What policy rules can select of a VM. */
export function factsOf(s: AuthState, vm: VmEntry): VmFacts {
  return { vmId: vm.vmId, networkId: s.networks.get(vm.vni), tags: s.tags.get(vm.vmId) ?? NO_TAGS };
}

function linkPair(s: AuthState, vmId: VmId, pairId: PairId): void {
  let set = s.pairsByVm.get(vmId);
  if (!set) s.pairsByVm.set(vmId, (set = new Set()));
  set.add(pairId);
}

function dropPair(s: AuthState, pairId: PairId): void {
  const p = s.pairs.get(pairId);
  if (!p) return;
  s.pairs.delete(pairId);
  for (const vm of [p.srcVmId, p.dstVmId]) {
    const set = s.pairsByVm.get(vm);
    set?.delete(pairId);
    if (set?.size === 0) s.pairsByVm.delete(vm);
  }
}

/** Folds an input event or a decision. */
export function evolve(s: AuthState, f: AuthFact): AuthState {
  switch (f.type) {
    case 'NetworkCreated':
      // The first definition wins (as in the mapping service): a re-sent or conflicting one
      // must not move VMs into another network behind the live pairs' back.
      if (![...s.networks.values()].includes(f.payload.networkId) && !s.networks.has(f.payload.vni)) s.networks.set(f.payload.vni, f.payload.networkId);
      return s;
    case 'VmMappingAdded': {
      const p = f.payload;
      const before = s.vms.get(p.vmId);
      if (before) s.byAddress.delete(addressKey(before.vni, before.ip));
      s.vms.set(p.vmId, { vmId: p.vmId, vni: p.vni, ip: p.ip, hostId: p.hostId, underlay: p.underlay });
      s.byAddress.set(addressKey(p.vni, p.ip), p.vmId);
      return s;
    }
    case 'VmMappingRemoved': {
      const p = f.payload;
      if (s.vms.get(p.vmId)?.ip === p.ip) s.vms.delete(p.vmId);
      if (s.byAddress.get(addressKey(p.vni, p.ip)) === p.vmId) s.byAddress.delete(addressKey(p.vni, p.ip));
      return s;
    }
    case 'VmMoved': {
      const p = f.payload;
      const vm = s.vms.get(p.vmId);
      if (vm && vm.ip === p.ip && vm.vni === p.vni) s.vms.set(p.vmId, { ...vm, hostId: p.toHostId, underlay: p.toUnderlay });
      return s;
    }
    case 'VmTagged':
      s.tags.set(f.payload.vmId, new Set(f.payload.tags));
      return s;
    case 'PolicyRuleSet': {
      const { ruleId, action, from, to } = f.payload;
      s.rules.set(ruleId, { ruleId, action, from, to });
      s.policyVersion++;
      return s;
    }
    case 'PolicyRuleRemoved':
      s.rules.delete(f.payload.ruleId);
      s.policyVersion++;
      return s;
    case 'PairRequested':
      return s;
    case 'PairAuthorized': {
      const p = f.payload;
      dropPair(s, p.pairId);
      s.pairs.set(p.pairId, { pairId: p.pairId, hostId: p.hostId, vni: p.vni, srcVmId: p.srcVmId, srcIp: p.srcIp, dstIp: p.dstIp, dstVmId: p.dstVmId, ruleId: p.ruleId });
      linkPair(s, p.srcVmId, p.pairId);
      linkPair(s, p.dstVmId, p.pairId);
      return s;
    }
    case 'PairDenied':
    case 'PairRevoked':
      dropPair(s, f.payload.pairId);
      return s;
    default: {
      const never: never = f;
      return never;
    }
  }
}
