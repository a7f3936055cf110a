/**
 * Policy evaluation: may traffic go from one VM to another?
 *
 * 1. A `deny` rule whose `from` selects the source and whose `to` selects the destination
 *    refuses the pair, whatever else allows it (deny wins).
 * 2. Otherwise VMs of the same network may talk (the default, named by rule `null`).
 * 3. Otherwise a matching `allow` rule allows it; without one, the default refuses it.
 * Among several matching rules the smallest rule id is named, so a decision is the same
 * whatever order the rules were set in.
 */
import type { NetworkId, RuleId, Selector, Tag, VmId } from '@vnet/events';

/** What a rule can select a VM by. */
export interface VmFacts {
  readonly vmId: VmId;
  readonly networkId: NetworkId | undefined;
  readonly tags: ReadonlySet<Tag>;
}

/** One rule as the service keeps it. */
export interface Rule {
  readonly ruleId: RuleId;
  readonly action: 'allow' | 'deny';
  readonly from: Selector;
  readonly to: Selector;
}

/** The outcome, with the rule that decided (null: the same-network default). */
export interface Verdict {
  readonly allowed: boolean;
  readonly ruleId: RuleId | null;
  /** One line for people: why. */
  readonly why: string;
}

/** True when `s` selects the VM. */
export function selects(s: Selector, vm: VmFacts): boolean {
  if ('network' in s) return vm.networkId === s.network;
  if ('vm' in s) return vm.vmId === s.vm;
  if ('tag' in s) return vm.tags.has(s.tag);
  return true;
}

/** The verdict of `rules` on traffic from `src` to `dst`. */
export function evaluate(rules: Iterable<Rule>, src: VmFacts, dst: VmFacts): Verdict {
  let deny: RuleId | undefined;
  let allow: RuleId | undefined;
  for (const r of rules) {
    if (!selects(r.from, src) || !selects(r.to, dst)) continue;
    if (r.action === 'deny') deny = deny === undefined || r.ruleId < deny ? r.ruleId : deny;
    else allow = allow === undefined || r.ruleId < allow ? r.ruleId : allow;
  }
  if (deny !== undefined) return { allowed: false, ruleId: deny, why: `rule ${deny} denies it` };
  if (src.networkId !== undefined && src.networkId === dst.networkId) return { allowed: true, ruleId: null, why: `both in network ${src.networkId}` };
  if (allow !== undefined) return { allowed: true, ruleId: allow, why: `rule ${allow} allows it` };
  return {
    allowed: false,
    ruleId: null,
    why: `different networks (${src.networkId ?? '?'} → ${dst.networkId ?? '?'}) and no rule allows it`,
  };
}
