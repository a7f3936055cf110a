/**
 * Where the VMs of a request go: hosts of the region (region → datacenters → hosts, down the
 * `owns` links) that are not deleted and not drained, each VM on the host with the most CPUs
 * left that fits its size (ties: the host id), so a request spreads over the region's hosts.
 * Pure: the same graph and request give the same plan.
 */
import type { NodeRef } from '@vnet/events';
import { keyOf, type Graph, type GraphNode } from './graph';

export interface HostChoice {
  readonly host: NodeRef;
}

/** The live hosts of a region (deleted nodes and hosts in `unavailable` left out). */
export function hostsOfRegion(g: Graph, regionId: string, unavailable: ReadonlySet<string>): GraphNode[] {
  const region = g.nodes.get(`region/${regionId}`);
  if (!region || region.revision === 0 || region.deleted) return [];
  const out: GraphNode[] = [];
  for (const dc of region.owns.values()) {
    const d = g.nodes.get(keyOf(dc));
    if (dc.kind !== 'datacenter' || !d || d.deleted) continue;
    for (const h of d.owns.values()) {
      const n = g.nodes.get(keyOf(h));
      if (h.kind === 'host' && n && !n.deleted && n.revision > 0 && !unavailable.has(h.id)) out.push(n);
    }
  }
  return out.sort((a, b) => a.ref.id.localeCompare(b.ref.id));
}

/** A host for each of `count` VMs of `size`, or undefined when the region's hosts cannot take them all. */
export function planHosts(hosts: readonly GraphNode[], count: number, size: { readonly cpus: number; readonly memoryMiB: number }): NodeRef[] | undefined {
  const free = hosts.map((h) => ({ ref: h.ref, cpus: (h.capacity.cpus ?? 0) - h.used.cpus, mem: (h.capacity.memoryMiB ?? 0) - h.used.memoryMiB }));
  const out: NodeRef[] = [];
  for (let i = 0; i < count; i++) {
    let best: (typeof free)[number] | undefined;
    for (const f of free) if (f.cpus >= size.cpus && f.mem >= size.memoryMiB && (!best || f.cpus > best.cpus)) best = f;
    if (!best) return undefined;
    best.cpus -= size.cpus;
    best.mem -= size.memoryMiB;
    out.push(best.ref);
  }
  return out;
}

/** Free CPUs and memory of a region's hosts, for a refusal's detail. */
export function regionRoom(hosts: readonly GraphNode[]): string {
  const cpus = hosts.reduce((n, h) => n + (h.capacity.cpus ?? 0) - h.used.cpus, 0);
  const mem = hosts.reduce((n, h) => n + (h.capacity.memoryMiB ?? 0) - h.used.memoryMiB, 0);
  return `${hosts.length} hosts with ${cpus} CPUs and ${mem} MiB free in all`;
}
