/**
 * The host tables as bytes (for snapshots) and as a hash (to compare a snapshot + tail with
 * a full replay). Both are canonical: entries are sorted, so equal tables give equal bytes.
 */
import { createHash } from 'node:crypto';
import type { HostTables, VniTable } from './table';
import { ipToU32, TunnelTable, u32ToIp, type HostRef } from './tunnels';

interface Wire {
  readonly hostId: string;
  readonly hostPosition: number;
  readonly local: Array<[string, number, string]>;
  readonly vnis: Array<[number, number, Array<[string, string, string, string]>]>;
}

const byKey = <T extends [string | number, ...unknown[]]>(a: T, b: T) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

function toWire(s: HostTables): Wire {
  return {
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

const MAGIC = 0x564e5433; // "VNT3": binary snapshot, version 3 (columns)
/** Written in the machine's byte order; a snapshot from a machine of the other order is refused. */
const BYTE_ORDER = 0x01020304;

/** A growing byte buffer for the encoder. */
class Writer {
  buf = Buffer.allocUnsafe(1 << 16);
  len = 0;
  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  u32(n: number): void {
    this.room(4);
    this.len = this.buf.writeUInt32BE(n >>> 0, this.len);
  }
  f64(n: number): void {
    this.room(8);
    this.len = this.buf.writeDoubleBE(n, this.len);
  }
  str(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.room(2 + n);
    this.len = this.buf.writeUInt16BE(n, this.len);
    this.len += this.buf.write(s, this.len, 'utf8');
  }
  /** The bytes of a typed array as they are in memory (machine byte order). */
  bytes(a: ArrayBufferView): void {
    this.room(a.byteLength);
    this.buf.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), this.len);
    this.len += a.byteLength;
  }
}

/**
 * Canonical bytes of the tables: the local VMs sorted by id, then per VNI (ascending) its
 * position and its tunnel table as columns sorted by address (`TunnelTable.toColumns`):
 * addresses and host indexes as u32 arrays copied as they are in memory, VM ids as one run of
 * ASCII bytes. Equal tables give equal bytes; a million entries take ~22 bytes each and load
 * back without parsing an object per entry.
 */
export function encodeTables(s: HostTables): Uint8Array {
  const out = new Writer();
  out.u32(MAGIC);
  out.bytes(new Uint32Array([BYTE_ORDER]));
  out.str(s.hostId);
  out.f64(s.hostPosition);
  const local = [...s.local].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  out.u32(local.length);
  for (const [vm, l] of local) {
    const ip = ipToU32(l.ip);
    if (ip < 0) throw new Error(`local VM ${vm} has no canonical IPv4 address (${JSON.stringify(l.ip)})`);
    out.str(vm), out.u32(l.vni), out.u32(ip);
  }
  const vnis = [...s.vnis.keys()].sort((a, b) => a - b);
  out.u32(vnis.length);
  for (const vni of vnis) {
    const t = s.vnis.get(vni)!;
    const c = t.tunnels.toColumns();
    out.u32(vni);
    out.f64(t.position);
    out.u32(c.hostRefs.length);
    for (const h of c.hostRefs) (out.str(h.hostId), out.str(h.underlay));
    out.u32(c.ips.length);
    out.u32(c.vmBytes.length);
    out.bytes(c.ips);
    out.bytes(c.hosts);
    out.bytes(c.vmLen);
    out.bytes(c.vmBytes);
  }
  return out.buf.subarray(0, out.len);
}

/** Tables from `encodeTables` bytes; throws on bytes it did not write (the caller then
 * replays the log instead). */
export function decodeTables(bytes: Uint8Array): HostTables {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number) => {
    if (at + n > b.byteLength) throw new Error(`host table snapshot truncated at byte ${at}`);
  };
  const u32 = () => (need(4), (at += 4), b.readUInt32BE(at - 4));
  const f64 = () => (need(8), (at += 8), b.readDoubleBE(at - 8));
  const str = () => {
    need(2);
    const n = b.readUInt16BE(at);
    need(2 + n);
    at += 2 + n;
    return b.toString('utf8', at - n, at);
  };
  /** `n` elements copied out of the bytes (whatever their alignment). */
  const u32s = (n: number) => {
    need(n * 4);
    const a = new Uint32Array(n);
    new Uint8Array(a.buffer).set(b.subarray(at, (at += n * 4)));
    return a;
  };
  const u8s = (n: number) => (need(n), b.subarray(at, (at += n)));
  if (b.byteLength < 8 || u32() !== MAGIC) throw new Error('not a host table snapshot of this version');
  if (u32s(1)[0] !== BYTE_ORDER) throw new Error('host table snapshot written on a machine of the other byte order');
  const hostId = str();
  const hostPosition = f64();
  const local = new Map<string, { vni: number; ip: string }>();
  for (let i = u32(); i > 0; i--) {
    const vm = str();
    local.set(vm, { vni: u32(), ip: u32ToIp(u32()) });
  }
  const vnis = new Map<number, VniTable>();
  for (let i = u32(); i > 0; i--) {
    const vni = u32();
    const position = f64();
    const hostRefs: HostRef[] = [];
    for (let h = u32(); h > 0; h--) hostRefs.push({ hostId: str(), underlay: str() });
    const n = u32();
    const vmByteCount = u32();
    const ips = u32s(n);
    const hosts = u32s(n);
    const vmLen = u8s(n);
    const vmBytes = u8s(vmByteCount);
    vnis.set(vni, { tunnels: TunnelTable.fromColumns({ ips, hosts, vmLen, vmBytes, hostRefs }), position });
  }
  if (at !== b.byteLength) throw new Error(`host table snapshot has ${b.byteLength - at} trailing bytes`);
  return { hostId, hostPosition, local, vnis };
}

/** SHA-256 of the tunnel tables and local VMs (positions excluded: two ways of reaching the
 * same tables give the same hash). */
export function tableHash(s: HostTables): string {
  const w = toWire(s);
  return createHash('sha256')
    .update(JSON.stringify([w.hostId, w.local, w.vnis.map(([vni, , t]) => [vni, t])]))
    .digest('hex');
}
