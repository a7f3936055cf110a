/**
 * The host tables as bytes (for snapshots) and as a hash (to compare a snapshot + tail with
 * a full replay). Both are canonical: entries are sorted, so equal tables give equal bytes.
 */
import { createHash } from 'node:crypto';
import type { HostTables, Tunnel } from './table';

interface Wire {
  readonly v: 1;
  readonly hostId: string;
  readonly hostPosition: number;
  readonly local: Array<[string, number, string]>;
  readonly vnis: Array<[number, number, Array<[string, string, string, string]>]>;
}

const byKey = <T extends [string | number, ...unknown[]]>(a: T, b: T) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

function toWire(s: HostTables): Wire {
  return {
    v: 1,
    hostId: s.hostId,
    hostPosition: s.hostPosition,
    local: [...s.local].map(([vm, l]): [string, number, string] => [vm, l.vni, l.ip]).sort(byKey),
    vnis: [...s.vnis]
      .map(([vni, t]): [number, number, Array<[string, string, string, string]>] => [
        vni,
        t.position,
        [...t.tunnels].map(([ip, x]): [string, string, string, string] => [ip, x.vmId, x.hostId, x.underlay]).sort(byKey),
      ])
      .sort(byKey),
  };
}

/** Canonical bytes of the tables. */
export function encodeTables(s: HostTables): Uint8Array {
  return Buffer.from(JSON.stringify(toWire(s)), 'utf8');
}

/** Tables from `encodeTables` bytes; throws on bytes it did not write (a snapshot is ours). */
export function decodeTables(bytes: Uint8Array): HostTables {
  const w = JSON.parse(Buffer.from(bytes).toString('utf8')) as Wire;
  if (w.v !== 1) throw new Error(`host table snapshot version ${String(w.v)} is not known`);
  return {
    hostId: w.hostId,
    hostPosition: w.hostPosition,
    local: new Map(w.local.map(([vm, vni, ip]) => [vm, { vni, ip }])),
    vnis: new Map(
      w.vnis.map(([vni, position, tunnels]) => [
        vni,
        { position, tunnels: new Map(tunnels.map(([ip, vmId, hostId, underlay]): [string, Tunnel] => [ip, { vmId, hostId, underlay }])) },
      ]),
    ),
  };
}

/** SHA-256 of the tunnel tables and local VMs (positions excluded: two ways of reaching the
 * same tables give the same hash). */
export function tableHash(s: HostTables): string {
  const w = toWire(s);
  return createHash('sha256')
    .update(JSON.stringify([w.hostId, w.local, w.vnis.map(([vni, , t]) => [vni, t])]))
    .digest('hex');
}
