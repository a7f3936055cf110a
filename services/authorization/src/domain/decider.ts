/**
 * The authorization decider: what the service writes in answer to each input, given the
 * state before it. Pure and deterministic (same state and input, same decisions in the same
 * order), so the adapter can derive output ids from the input id and rebuild by replay.
 *
 * - `PairRequested` → `PairAuthorized` (with the destination VM, host and underlay address)
 *   or `PairDenied` (unknown source or destination, or policy), naming the rule and the
 *   policy version.
 * - A policy change (`PolicyRuleSet` / `PolicyRuleRemoved`) → `PairRevoked` for every live
 *   pair the new policy no longer allows, with the new version; a VM's new tags → the same
 *   for the pairs of that VM; a VM's mapping gone → its pairs revoked (`vm-gone`).
 */
import type { EventOf, NonNegativeInt, PairId } from '@vnet/events';
import { output, type AuthInput, type AuthOutput } from './messages';
import { evaluate, type Rule } from './policy';
import { addressKey, evolve, factsOf, type AuthState, type LivePair } from './state';

const NOTHING: readonly AuthOutput[] = [];

function decidePair(s: AuthState, e: EventOf<'PairRequested'>): readonly AuthOutput[] {
  const p = e.payload;
  const base = { pairId: p.pairId, hostId: p.hostId, vni: p.vni, srcIp: p.srcIp, dstIp: p.dstIp, policyVersion: s.policyVersion as NonNegativeInt } as const;
  const deny = (reason: 'unknown-source' | 'unknown-destination' | 'policy', ruleId: Rule['ruleId'] | null, detail: string) => [
    output('PairDenied', { ...base, reason, ruleId, detail }),
  ];
  const src = s.vms.get(p.srcVmId);
  if (!src || src.vni !== p.vni || src.ip !== p.srcIp || src.hostId !== p.hostId) {
    return deny('unknown-source', null, `VM ${p.srcVmId} is not ${p.srcIp} in VNI ${p.vni} on host ${p.hostId}`);
  }
  const dstId = s.byAddress.get(addressKey(p.vni, p.dstIp));
  const dst = dstId === undefined ? undefined : s.vms.get(dstId);
  if (!dst) return deny('unknown-destination', null, `no VM has ${p.dstIp} in VNI ${p.vni}`);
  const v = evaluate(s.rules.values(), factsOf(s, src), factsOf(s, dst));
  if (!v.allowed) return deny('policy', v.ruleId, v.why);
  return [
    output('PairAuthorized', {
      ...base,
      srcVmId: src.vmId,
      dstVmId: dst.vmId,
      dstHostId: dst.hostId,
      dstUnderlay: dst.underlay,
      ruleId: v.ruleId,
    }),
  ];
}

/** Revokes, in pair id order, the pairs of `ids` that `rules` no longer allow. */
function revokeDisallowed(s: AuthState, ids: Iterable<PairId>, rules: Iterable<Rule>, version: number): AuthOutput[] {
  const out: AuthOutput[] = [];
  const ruleList = [...rules];
  for (const id of [...ids].sort()) {
    const pair = s.pairs.get(id);
    if (!pair) continue;
    const src = s.vms.get(pair.srcVmId);
    const dst = s.vms.get(pair.dstVmId);
    if (!src || !dst) continue; // revoked as vm-gone when the mapping went
    const v = evaluate(ruleList, factsOf(s, src), factsOf(s, dst));
    if (!v.allowed) out.push(revoke(pair, 'policy', v.ruleId, version));
  }
  return out;
}

const revoke = (p: LivePair, reason: 'policy' | 'vm-gone', ruleId: Rule['ruleId'] | null, version: number): AuthOutput =>
  output('PairRevoked', { pairId: p.pairId, hostId: p.hostId, vni: p.vni, srcIp: p.srcIp, dstIp: p.dstIp, reason, ruleId, policyVersion: version as NonNegativeInt });

/** The decisions for one input. */
export function decide(s: AuthState, e: AuthInput): readonly AuthOutput[] {
  switch (e.type) {
    case 'PairRequested':
      return decidePair(s, e);
    case 'PolicyRuleSet':
    case 'PolicyRuleRemoved': {
      const rules = new Map(s.rules);
      if (e.type === 'PolicyRuleSet') {
        const { ruleId, action, from, to } = e.payload;
        rules.set(ruleId, { ruleId, action, from, to });
      } else rules.delete(e.payload.ruleId);
      return revokeDisallowed(s, s.pairs.keys(), rules.values(), s.policyVersion + 1);
    }
    case 'VmTagged': {
      const ids = s.pairsByVm.get(e.payload.vmId);
      if (!ids) return NOTHING;
      const before = s.tags.get(e.payload.vmId);
      s.tags.set(e.payload.vmId, new Set(e.payload.tags)); // evaluate with the new tags…
      try {
        return revokeDisallowed(s, ids, s.rules.values(), s.policyVersion);
      } finally {
        if (before) s.tags.set(e.payload.vmId, before); // …and leave the state as it was
        else s.tags.delete(e.payload.vmId);
      }
    }
    case 'VmMappingRemoved': {
      const ids = s.pairsByVm.get(e.payload.vmId);
      if (!ids || s.vms.get(e.payload.vmId)?.ip !== e.payload.ip) return NOTHING;
      return [...ids].sort().flatMap((id) => {
        const p = s.pairs.get(id);
        return p ? [revoke(p, 'vm-gone', null, s.policyVersion)] : [];
      });
    }
    case 'VmMoved': {
      // The live pairs to the VM follow it: authorised again, same rule, with its new host
      // (the sources get tokens for the new address and switch their endpoint). Pairs from
      // it stay with the source host's agent until they expire: the VM's new host asks for
      // its own on the first packet.
      const p = e.payload;
      const ids = s.pairsByVm.get(p.vmId);
      const moved = s.vms.get(p.vmId);
      if (!ids || !moved || moved.ip !== p.ip || moved.vni !== p.vni) return NOTHING;
      const out: AuthOutput[] = [];
      for (const id of [...ids].sort()) {
        const pair = s.pairs.get(id);
        if (!pair || pair.dstVmId !== p.vmId) continue;
        out.push(
          output('PairAuthorized', {
            pairId: pair.pairId,
            hostId: pair.hostId,
            vni: pair.vni,
            srcIp: pair.srcIp,
            dstIp: pair.dstIp,
            policyVersion: s.policyVersion as NonNegativeInt,
            srcVmId: pair.srcVmId,
            dstVmId: pair.dstVmId,
            dstHostId: p.toHostId,
            dstUnderlay: p.toUnderlay,
            ruleId: pair.ruleId,
          }),
        );
      }
      return out;
    }
    case 'NetworkCreated':
    case 'VmMappingAdded':
      return NOTHING;
    default: {
      const never: never = e;
      return never;
    }
  }
}

/** The state after an input and its decisions. */
export function applyDecision(s: AuthState, e: AuthInput, decisions: readonly AuthOutput[]): AuthState {
  let next = evolve(s, e);
  for (const d of decisions) next = evolve(next, d);
  return next;
}
