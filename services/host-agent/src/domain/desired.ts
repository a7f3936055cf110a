/**
 * What the data plane should be programmed with, derived from the host tables: the local VMs
 * (each gets a VM port) and, per served VNI, the tunnel table virtual IP → (VM, host,
 * underlay). The data plane's `apply(desired)` makes itself match it, touching only what
 * differs (Tailscale's `router.Set` style), so the same desired state applied twice changes
 * nothing.
 *
 * `desiredFrom` copies the tables: `evolve` updates them in place, and the data plane
 * diffs against the last desired state it was given, so it must not share them (a tunnel
 * table copies as a few typed arrays).
 */
import type { HostTables, Tunnel } from './table';

/** One local VM: the data plane opens a VM port for it. */
export interface DesiredVm {
  readonly vmId: string;
  readonly vni: number;
  readonly ip: string;
}

export interface Desired {
  /** The VMs running on this host, sorted by id. */
  readonly vms: readonly DesiredVm[];
  /** Per VNI, the tunnel table: virtual IP (dotted quad) → where that VM runs. */
  readonly tunnels: ReadonlyMap<number, ReadonlyMap<string, Tunnel>>;
}

/** The desired data-plane state for the tables (a copy: later folds do not change it). */
export function desiredFrom(tables: HostTables): Desired {
  const vms: DesiredVm[] = [];
  for (const [vmId, { vni, ip }] of tables.local) vms.push({ vmId, vni, ip });
  vms.sort((a, b) => (a.vmId < b.vmId ? -1 : a.vmId > b.vmId ? 1 : 0));
  const tunnels = new Map<number, ReadonlyMap<string, Tunnel>>();
  for (const [vni, table] of tables.vnis) tunnels.set(vni, table.tunnels.clone());
  return { vms, tunnels };
}
