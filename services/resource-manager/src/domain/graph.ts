/**
 * The resource graph: nodes (regions, hosts, projects, subnets, VMs, NICs, images…) with what
 * they hand out, links (owns / uses), and the live allocations each node has handed out.
 * A fold of the `res.<kind>.<id>` subjects; each node remembers the position of its last
 * event (its revision), which is what an allocation decided on it expects when it is written.
 *
 * `evolve` updates the graph it is given (like the other services' folds) and ignores an
 * event at or before the node's revision, so the same event folded twice (written by this
 * instance, then read back from the log) changes nothing.
 */
import {
  cidrParts,
  intToIpv4,
  ipv4ToInt,
  type AllocationId,
  type DomainEvent,
  type EventOf,
  type NodeRef,
  type ResourceCapacity,
  type ResourceName,
} from '@vnet/events';

/** `kind/id`: a node's key in the graph. */
export type NodeKey = string;
export const keyOf = (n: NodeRef): NodeKey => `${n.kind}/${n.id}`;

export interface Allocation {
  readonly allocationId: AllocationId;
  readonly holder: NodeRef;
  readonly resource: ResourceName;
  readonly amount: number;
  /** The address, for `ips`. */
  readonly ip?: number;
}

export interface GraphNode {
  readonly ref: NodeRef;
  readonly key: NodeKey;
  capacity: ResourceCapacity;
  deleted: boolean;
  /** Position of the node's last event (0: none yet). */
  revision: number;
  /** Live allocations it handed out, by id. */
  readonly allocations: Map<AllocationId, Allocation>;
  /** Allocations it decided (handed out, refused or released): asking again changes nothing. */
  readonly decided: Set<AllocationId>;
  /** Sum handed out per resource (`ips`: addresses). */
  readonly used: Record<ResourceName, number>;
  /** Addresses handed out (u32). */
  readonly ipsUsed: Set<number>;
  /** Where the next address search starts. */
  ipCursor: number;
  /** Outgoing links: nodes it owns, nodes it uses. */
  readonly owns: Map<NodeKey, NodeRef>;
  readonly uses: Map<NodeKey, NodeRef>;
}

export interface Graph {
  readonly nodes: Map<NodeKey, GraphNode>;
  /** Holder → where its live allocations are (provider key → allocation ids). */
  readonly held: Map<NodeKey, Map<NodeKey, Set<AllocationId>>>;
  /** Node → the nodes that own it. */
  readonly ownedBy: Map<NodeKey, Set<NodeKey>>;
  /** Position of the last event folded (any node). */
  position: number;
}

export const emptyGraph = (): Graph => ({ nodes: new Map(), held: new Map(), ownedBy: new Map(), position: 0 });

/** A node with no event yet (an allocation to an unknown node is refused on it at revision 0). */
function blank(ref: NodeRef): GraphNode {
  return {
    ref,
    key: keyOf(ref),
    capacity: {},
    deleted: false,
    revision: 0,
    allocations: new Map(),
    decided: new Set(),
    used: { ips: 0, cpus: 0, memoryMiB: 0, instances: 0 },
    ipsUsed: new Set(),
    ipCursor: 0,
    owns: new Map(),
    uses: new Map(),
  };
}

/** The node, if it was ever added (deleted ones included). */
export const nodeOf = (g: Graph, ref: NodeRef): GraphNode | undefined => {
  const n = g.nodes.get(keyOf(ref));
  return n && (n.revision > 0 ? n : undefined);
};

/** The node's state, made when absent (for folding and for its revision). */
export function nodeFor(g: Graph, ref: NodeRef): GraphNode {
  const key = keyOf(ref);
  let n = g.nodes.get(key);
  if (!n) g.nodes.set(key, (n = blank(ref)));
  return n;
}

/** The subject (stream name) of a node's events. */
export const streamOfNode = (ref: NodeRef): string => `res.${ref.kind}.${ref.id}`;

/** Events of the graph: those on `res.>` subjects. */
export type GraphEvent = EventOf<'ResourceNodeAdded' | 'ResourceLinked' | 'ResourceNodeDeleted' | 'ResourceAllocated' | 'ResourceReleased' | 'AllocationRefused'>;
export const isGraphEvent = (e: DomainEvent): e is GraphEvent =>
  e.type === 'ResourceNodeAdded' ||
  e.type === 'ResourceLinked' ||
  e.type === 'ResourceNodeDeleted' ||
  e.type === 'ResourceAllocated' ||
  e.type === 'ResourceReleased' ||
  e.type === 'AllocationRefused';

/** The node whose subject an event is on. */
export function subjectNode(e: GraphEvent): NodeRef {
  switch (e.type) {
    case 'ResourceNodeAdded':
    case 'ResourceNodeDeleted':
      return e.payload.node;
    case 'ResourceLinked':
      return e.payload.from;
    default:
      return e.payload.provider;
  }
}

function hold(g: Graph, holder: NodeKey, provider: NodeKey, id: AllocationId): void {
  let m = g.held.get(holder);
  if (!m) g.held.set(holder, (m = new Map()));
  let s = m.get(provider);
  if (!s) m.set(provider, (s = new Set()));
  s.add(id);
}
function unhold(g: Graph, holder: NodeKey, provider: NodeKey, id: AllocationId): void {
  const m = g.held.get(holder);
  const s = m?.get(provider);
  if (!s?.delete(id)) return;
  if (s.size === 0) m!.delete(provider);
  if (m!.size === 0) g.held.delete(holder);
}

/** Folds one event stored at `position`. */
export function evolve(g: Graph, e: GraphEvent, position: number): Graph {
  g.position = Math.max(g.position, position);
  const n = nodeFor(g, subjectNode(e));
  if (position <= n.revision) return g; // folded already
  n.revision = position;
  switch (e.type) {
    case 'ResourceNodeAdded':
      // Adding it again changes nothing (a deleted node stays deleted).
      if (Object.keys(n.capacity).length === 0) n.capacity = e.payload.capacity;
      return g;
    case 'ResourceLinked': {
      const to = e.payload.to;
      const k = keyOf(to);
      (e.payload.relation === 'owns' ? n.owns : n.uses).set(k, to);
      if (e.payload.relation === 'owns') {
        let s = g.ownedBy.get(k);
        if (!s) g.ownedBy.set(k, (s = new Set()));
        s.add(n.key);
      }
      return g;
    }
    case 'ResourceNodeDeleted':
      n.deleted = true;
      return g;
    case 'ResourceAllocated': {
      const p = e.payload;
      n.decided.add(p.allocationId);
      const ip = p.ip === undefined ? undefined : ipv4ToInt(p.ip);
      n.allocations.set(p.allocationId, { allocationId: p.allocationId, holder: p.holder, resource: p.resource, amount: p.amount, ...(ip === undefined ? {} : { ip }) });
      n.used[p.resource] += p.amount;
      if (ip !== undefined) n.ipsUsed.add(ip);
      hold(g, keyOf(p.holder), n.key, p.allocationId);
      return g;
    }
    case 'ResourceReleased': {
      const p = e.payload;
      n.decided.add(p.allocationId);
      const a = n.allocations.get(p.allocationId);
      if (!a) return g;
      n.allocations.delete(p.allocationId);
      n.used[a.resource] -= a.amount;
      if (a.ip !== undefined) n.ipsUsed.delete(a.ip);
      unhold(g, keyOf(a.holder), n.key, p.allocationId);
      return g;
    }
    case 'AllocationRefused':
      n.decided.add(e.payload.allocationId);
      return g;
    default: {
      const never: never = e;
      return never;
    }
  }
}

/** How much of `resource` the node has in all (`ips`: usable addresses). */
export function capacityOf(c: ResourceCapacity, resource: ResourceName): number {
  if (resource !== 'ips') return c[resource] ?? 0;
  if (c.ips === undefined) return 0;
  return usableRange(c.ips).count;
}

/** The usable addresses of a subnet: the network address, the first (the gateway) and the broadcast address are not handed out. */
export function usableRange(cidr: NonNullable<ResourceCapacity['ips']>): { readonly first: number; readonly count: number } {
  const { network, size } = cidrParts(cidr);
  const base = ipv4ToInt(network);
  if (size <= 4) return { first: base, count: 0 };
  return { first: base + 2, count: size - 3 };
}

/** A free address of the subnet node (searching on from the last one handed out), or undefined. */
export function freeIp(n: GraphNode): number | undefined {
  if (n.capacity.ips === undefined) return undefined;
  const { first, count } = usableRange(n.capacity.ips);
  if (n.ipsUsed.size >= count) return undefined;
  for (let i = 0; i < count; i++) {
    const off = (n.ipCursor + i) % count;
    const ip = (first + off) >>> 0;
    if (!n.ipsUsed.has(ip)) {
      n.ipCursor = (off + 1) % count;
      return ip;
    }
  }
  return undefined;
}

export const ipString = (ip: number): string => intToIpv4(ip >>> 0);

/** True when `a` and `b` are linked (either way, owns or uses). */
export function linked(g: Graph, a: NodeRef, b: NodeRef): boolean {
  const na = g.nodes.get(keyOf(a));
  const nb = g.nodes.get(keyOf(b));
  const kb = keyOf(b);
  const ka = keyOf(a);
  return Boolean(na?.owns.has(kb) || na?.uses.has(kb) || nb?.owns.has(ka) || nb?.uses.has(ka));
}

/** The nodes `n` owns, all the way down (each once, deepest first, `n` excluded). */
export function ownedTree(g: Graph, root: NodeKey): NodeKey[] {
  const out: NodeKey[] = [];
  const seen = new Set<NodeKey>([root]);
  const visit = (k: NodeKey): void => {
    for (const child of g.nodes.get(k)?.owns.keys() ?? []) {
      if (seen.has(child)) continue;
      seen.add(child);
      visit(child);
      out.push(child);
    }
  };
  visit(root);
  return out;
}
