/**
 * The host agent's tables, as a pure fold of its slice of the log:
 * - `local`: the VMs this host runs (from `hostvms.<host>`: HostVmAttached / HostVmDetached);
 * - `vnis`: for each VNI with at least one local VM, the tunnel table
 *   (virtual IP → VM, host, underlay address) from `vni.<vni>` (VmMappingAdded / Removed, and
 *   VmMoved: a live migration's switch),
 *   with the position of the last event folded for that VNI.
 * A VNI is served from its first local VM to its last; dropping it forgets its table (a
 * later re-attach reads `vni.<vni>` again from the start). Tables of different VNIs do not
 * depend on each other's order, so one consumer per VNI may feed this fold.
 *
 * `evolve` owns the state it is given and returns the next one, updating the tables in place:
 * a cold rebuild folds a million events, and copying a table per event would make that
 * quadratic. Callers never keep a reference to a state they passed to `evolve`. Tunnel
 * tables are flat typed arrays (`tunnels.ts`), so a million entries cost the garbage
 * collector nothing.
 */
import { ipToU32, TunnelTable } from './tunnels';


/** The input events' payloads (the catalogue's internal mapping events). */
export interface Attached { readonly hostId: string; readonly vmId: string; readonly vni: number; readonly ip: string }
export interface MappingAdded { readonly vni: number; readonly ip: string; readonly vmId: string; readonly hostId: string; readonly underlay: string }
export interface MappingRemoved { readonly vni: number; readonly ip: string; readonly vmId: string; readonly hostId: string }
export interface Moved { readonly vni: number; readonly ip: string; readonly vmId: string; readonly toHostId: string; readonly toUnderlay: string }

/** What the fold reads, with the log position it was stored at. */
export type TableEvent =
  | { readonly type: 'HostVmAttached'; readonly payload: Attached; readonly position: number }
  | { readonly type: 'HostVmDetached'; readonly payload: Attached; readonly position: number }
  | { readonly type: 'VmMappingAdded'; readonly payload: MappingAdded; readonly position: number }
  | { readonly type: 'VmMappingRemoved'; readonly payload: MappingRemoved; readonly position: number }
  | { readonly type: 'VmMoved'; readonly payload: Moved; readonly position: number };

/** One tunnel table entry. */
export interface Tunnel {
  readonly vmId: string;
  readonly hostId: string;
  readonly underlay: string;
}

/** One served VNI. */
export interface VniTable {
  readonly tunnels: TunnelTable;
  /** Position of the last `vni.<vni>` event folded (0: none yet). */
  position: number;
}

export interface HostTables {
  readonly hostId: string;
  readonly local: Map<string, { readonly vni: number; readonly ip: string }>;
  readonly vnis: Map<number, VniTable>;
  /** Position of the last `hostvms.<host>` event folded. */
  hostPosition: number;
}

export const initialTables = (hostId: string): HostTables => ({ hostId, local: new Map(), vnis: new Map(), hostPosition: 0 });

/** Folds one event. Idempotent: an event at or before the position already folded for its
 * subject changes nothing (delivery is at least once). */
export function evolve(s: HostTables, e: TableEvent): HostTables {
  switch (e.type) {
    case 'HostVmAttached':
    case 'HostVmDetached': {
      if (e.payload.hostId !== s.hostId || e.position <= s.hostPosition) return s;
      s.hostPosition = e.position;
      const { vmId, vni, ip } = e.payload;
      if (e.type === 'HostVmAttached') {
        s.local.set(vmId, { vni, ip });
        if (!s.vnis.has(vni)) s.vnis.set(vni, { tunnels: new TunnelTable(), position: 0 });
      } else if (s.local.delete(vmId) && ![...s.local.values()].some((v) => v.vni === vni)) {
        s.vnis.delete(vni);
      }
      return s;
    }
    case 'VmMappingAdded':
    case 'VmMappingRemoved': {
      const t = s.vnis.get(e.payload.vni);
      if (!t || e.position <= t.position) return s;
      t.position = e.position;
      const ip = ipToU32(e.payload.ip);
      if (ip < 0) return s; // the catalogue only lets canonical addresses through
      if (e.type === 'VmMappingAdded') t.tunnels.setU32(ip, e.payload.vmId, e.payload.hostId, e.payload.underlay);
      else t.tunnels.deleteU32(ip, e.payload.vmId);
      return s;
    }
    case 'VmMoved': {
      // A live migration's switch: the same address, another host.
      const t = s.vnis.get(e.payload.vni);
      if (!t || e.position <= t.position) return s;
      t.position = e.position;
      const ip = ipToU32(e.payload.ip);
      if (ip >= 0) t.tunnels.setU32(ip, e.payload.vmId, e.payload.toHostId, e.payload.toUnderlay);
      return s;
    }
    default: {
      const never: never = e;
      return never;
    }
  }
}

/** The VNIs this host serves (those with a local VM). */
export const servedVnis = (s: HostTables): number[] => [...s.vnis.keys()].sort((a, b) => a - b);

/** Number of tunnel entries over every served VNI. */
export const tableSize = (s: HostTables): number => [...s.vnis.values()].reduce((n, t) => n + t.tunnels.size, 0);
