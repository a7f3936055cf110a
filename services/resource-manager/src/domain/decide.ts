/**
 * What a node's handler decides, one message at a time, given the graph as it stands: pure
 * functions from the graph and a request to the events to write (each on one node's subject).
 *
 * - Allocation (`AllocationRequested`, from a holder to a provider along a link): handed out
 *   (`ResourceAllocated`; for `ips` the next free address) or refused with the reason
 *   (`AllocationRefused`: unknown or deleted node, not linked, not provided, exhausted, an
 *   amount other than 1 for an address). The same allocation id again: nothing.
 * - Release (`ReleaseRequested`): `ResourceReleased` when the allocation is live, else nothing.
 * - Deletion (`ResourceDeletionRequested`): the node and everything it owns, deepest first;
 *   for each, what it handed out and what it holds elsewhere are released, then it is
 *   deleted (`ResourceNodeDeleted`, naming the owner whose deletion took it along).
 */
import {
  intToIpv4,
  ipv4ToInt,
  mustDecode,
  PositiveInt,
  type AllocationRefusalReason,
  type EventOf,
  type NodeRef,
  type PayloadOf,
  type ReleaseReason,
} from '@vnet/events';
import { capacityOf, freeIp, keyOf, linked, nodeOf, ownedTree, usableRange, type Allocation, type Graph, type GraphNode, type NodeKey } from './graph';

/** An event to write, on the subject of `node`. */
export type Decision =
  | { readonly node: NodeRef; readonly type: 'ResourceAllocated'; readonly payload: PayloadOf<'ResourceAllocated'> }
  | { readonly node: NodeRef; readonly type: 'AllocationRefused'; readonly payload: PayloadOf<'AllocationRefused'> }
  | { readonly node: NodeRef; readonly type: 'ResourceReleased'; readonly payload: PayloadOf<'ResourceReleased'> }
  | { readonly node: NodeRef; readonly type: 'ResourceNodeDeleted'; readonly payload: PayloadOf<'ResourceNodeDeleted'> };

type Request = PayloadOf<'AllocationRequested'>;

function refuse(r: Request, reason: AllocationRefusalReason, detail: string): Decision {
  return { node: r.provider, type: 'AllocationRefused', payload: { ...r, reason, detail } };
}

const show = (n: NodeRef) => `${n.kind}/${n.id}`;

/** The decision on an allocation request, or undefined when it was decided already. */
export function decideAllocation(g: Graph, r: Request): Decision | undefined {
  const provider = nodeOf(g, r.provider);
  if (provider?.decided.has(r.allocationId)) return undefined;
  if (!provider) return refuse(r, 'unknown-node', `${show(r.provider)} is not in the resource graph`);
  if (provider.deleted) return refuse(r, 'node-deleted', `${show(r.provider)} was deleted`);
  const holder = nodeOf(g, r.holder);
  if (!holder) return refuse(r, 'unknown-node', `the holder ${show(r.holder)} is not in the resource graph`);
  if (holder.deleted) return refuse(r, 'node-deleted', `the holder ${show(r.holder)} was deleted`);
  if (!linked(g, r.holder, r.provider)) return refuse(r, 'not-linked', `${show(r.holder)} and ${show(r.provider)} are not linked (ResourceLinked: owns or uses)`);
  const total = capacityOf(provider.capacity, r.resource);
  if (total === 0) return refuse(r, 'not-provided', `${show(r.provider)} has no ${r.resource} to hand out`);
  if (r.resource === 'ips') {
    if (r.amount !== 1) return refuse(r, 'bad-amount', `addresses are handed out one at a time (asked for ${r.amount})`);
    if (r.ip !== undefined) {
      // A given address (a VM placed from outside the graph keeps the one it has).
      const want = ipv4ToInt(r.ip);
      const { first, count } = usableRange(provider.capacity.ips!);
      if (want < first || want >= first + count) return refuse(r, 'unavailable', `${r.ip} is not one of the addresses ${show(r.provider)} hands out`);
      if (provider.ipsUsed.has(want)) return refuse(r, 'unavailable', `${r.ip} of ${show(r.provider)} is taken`);
      return { node: r.provider, type: 'ResourceAllocated', payload: { ...r } };
    }
    const ip = freeIp(provider);
    if (ip === undefined) return refuse(r, 'exhausted', `${show(r.provider)} has handed out all its ${total} addresses`);
    return { node: r.provider, type: 'ResourceAllocated', payload: { ...r, ip: intToIpv4(ip) } };
  }
  const used = provider.used[r.resource];
  if (used + r.amount > total) return refuse(r, 'exhausted', `${show(r.provider)} has ${total - used} of ${total} ${r.resource} left, asked for ${r.amount}`);
  return { node: r.provider, type: 'ResourceAllocated', payload: { ...r } };
}

const released = (provider: GraphNode, a: Allocation, reason: ReleaseReason): Decision => ({
  node: provider.ref,
  type: 'ResourceReleased',
  payload: {
    allocationId: a.allocationId,
    provider: provider.ref,
    holder: a.holder,
    resource: a.resource,
    amount: mustDecode(PositiveInt, a.amount),
    reason,
    ...(a.ip === undefined ? {} : { ip: intToIpv4(a.ip) }),
  },
});

/** The release of a live allocation, or undefined (unknown, or released already). */
export function decideRelease(g: Graph, r: PayloadOf<'ReleaseRequested'>): Decision | undefined {
  const provider = nodeOf(g, r.provider);
  const a = provider?.allocations.get(r.allocationId);
  return provider && a ? released(provider, a, 'requested') : undefined;
}

/**
 * The deletion of `root` and everything it owns, in the order to write it: per node (deepest
 * first) the releases of what it handed out, the releases of what it holds, its deletion.
 * Nodes deleted already are skipped; a node unknown to the graph gives nothing.
 */
export function decideDeletion(g: Graph, root: NodeRef): Decision[] {
  const rootNode = nodeOf(g, root);
  if (!rootNode) return [];
  const out: Decision[] = [];
  const order: NodeKey[] = [...ownedTree(g, rootNode.key), rootNode.key];
  for (const k of order) {
    const n = g.nodes.get(k);
    if (!n || n.revision === 0 || n.deleted) continue;
    for (const a of n.allocations.values()) out.push(released(n, a, 'provider-deleted'));
    for (const [pk, ids] of g.held.get(k) ?? []) {
      const p = g.nodes.get(pk);
      if (!p) continue;
      for (const id of ids) {
        const a = p.allocations.get(id);
        if (a) out.push(released(p, a, 'holder-deleted'));
      }
    }
    out.push({ node: n.ref, type: 'ResourceNodeDeleted', payload: { node: n.ref, ...(k === rootNode.key ? {} : { owner: root }) } });
  }
  return out;
}

/** Live allocations held by nodes that were deleted (left by a race with the deletion): to release. */
export function orphanedAllocations(g: Graph, holder: NodeRef): Decision[] {
  const h = g.nodes.get(keyOf(holder));
  if (!h?.deleted) return [];
  const out: Decision[] = [];
  for (const [pk, ids] of g.held.get(h.key) ?? []) {
    const p = g.nodes.get(pk);
    for (const id of ids) {
      const a = p?.allocations.get(id);
      if (p && a) out.push(released(p, a, 'holder-deleted'));
    }
  }
  return out;
}

/** The event of a decision (for folding it). */
export type DecisionEvent = EventOf<'ResourceAllocated' | 'AllocationRefused' | 'ResourceReleased' | 'ResourceNodeDeleted'>;
