/**
 * One VNI's tunnel table, virtual IP → (VM, host, underlay), as flat typed arrays instead of
 * a Map of objects: an open-addressing hash (linear probing, backward-shift deletion) keyed
 * by the IPv4 address as a u32, the host and its underlay address interned once per table,
 * and VM ids kept as bytes in one arena (they are ASCII aggregate ids).
 *
 * Why: a host agent folds a million mappings on a cold start. As a `Map<string, object>`
 * every entry was three or four heap objects surviving two scavenges each, and the garbage
 * collector, not the fold, set the pace; here an entry is 13 bytes of typed arrays plus its
 * VM id's bytes, nothing for the collector to trace. The same arrays make a snapshot cheap
 * to write and to load back (see `snapshot.ts`).
 *
 * It reads like a `ReadonlyMap<string, Tunnel>` (get/has/size/iteration with dotted-quad
 * keys); entries it hands out are fresh immutable values. Do not change it while iterating
 * (a delete shifts later entries back).
 */
import type { Tunnel } from './table';

const EMPTY = 0; // hosts[slot] is the interned host index + 1, 0 for an empty slot
const MIN_CAPACITY = 16;
const MAX_VM_ID = 255;

/** Dotted quad → u32, or -1 when `ip` is not a canonical IPv4 address. */
export function ipToU32(ip: string): number {
  let n = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      n = n * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // leading zero
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return n * 256 + octet;
}

/** u32 → dotted quad. */
export const u32ToIp = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

const slotOf = (key: number, mask: number): number => (Math.imul(key, 0x9e3779b1) >>> 0) & mask;

/** Slots for `entries` entries at most 3/4 full: a power of two, at least MIN_CAPACITY. */
function capacityFor(entries: number): number {
  let cap = MIN_CAPACITY;
  while (cap * 3 < entries * 4) cap *= 2;
  return cap;
}

/** A host an entry points at: its id and underlay address. */
export interface HostRef {
  readonly hostId: string;
  readonly underlay: string;
}

/** A table as columns (see {@link TunnelTable.toColumns}). */
export interface TunnelColumns {
  /** Addresses, ascending. */
  readonly ips: Uint32Array;
  /** Per entry, an index into `hostRefs`. */
  readonly hosts: Uint32Array;
  /** Per entry, the length of its VM id in `vmBytes`. */
  readonly vmLen: Uint8Array;
  /** The VM ids (ASCII), one after the other in entry order. */
  readonly vmBytes: Uint8Array;
  readonly hostRefs: readonly HostRef[];
}

export class TunnelTable implements ReadonlyMap<string, Tunnel> {
  /**
   * Slot i is `slots[4i .. 4i+3]` = address, host index + 1 (0: empty slot), VM id offset in
   * the arena, VM id length. Interleaved so that one probe touches one cache line, not four
   * arrays: inserting a million entries is memory-bound.
   */
  private slots: Uint32Array;
  private mask: number;
  private count = 0;
  /** VM id bytes (ASCII); entries point into it, dead bytes are reclaimed by compaction. */
  private arena: Buffer;
  private arenaUsed = 0;
  private arenaDead = 0;
  private readonly hostRefs: HostRef[] = [];
  /** hostId → index into hostRefs of its latest underlay (others found by a scan). */
  private readonly hostIndex = new Map<string, number>();

  constructor(capacity = MIN_CAPACITY, arenaBytes = 1024) {
    const cap = capacityFor(capacity);
    this.slots = new Uint32Array(cap * 4);
    this.mask = cap - 1;
    this.arena = Buffer.allocUnsafe(Math.max(arenaBytes, 64));
  }

  get size(): number {
    return this.count;
  }

  get [Symbol.toStringTag](): string {
    return 'TunnelTable';
  }

  /** Makes room for `entries` entries in all (a known backlog: no growing on the way);
   * `vmIdBytes` is the room for the VM ids of the entries to come. */
  reserve(entries: number, vmIdBytes = Math.max(0, entries - this.count) * 16): void {
    if (capacityFor(entries) > this.mask + 1) this.rehash(capacityFor(entries));
    if (this.arena.length < this.arenaUsed + vmIdBytes) {
      const next = Buffer.allocUnsafe(this.arenaUsed + vmIdBytes);
      this.arena.copy(next, 0, 0, this.arenaUsed);
      this.arena = next;
    }
  }

  /** The slot holding `key`, or -1. */
  private find(key: number): number {
    const { slots, mask } = this;
    for (let i = slotOf(key, mask); ; i = (i + 1) & mask) {
      const b = i << 2;
      if (slots[b + 1] === EMPTY) return -1;
      if (slots[b] === key) return i;
    }
  }

  private hostRef(hostId: string, underlay: string): number {
    const at = this.hostIndex.get(hostId);
    if (at !== undefined && this.hostRefs[at]!.underlay === underlay) return at;
    // A host seen with another underlay before (it moved): look for this pair, else add it.
    if (at !== undefined) {
      for (let i = 0; i < this.hostRefs.length; i++) {
        const h = this.hostRefs[i]!;
        if (h.hostId === hostId && h.underlay === underlay) return (this.hostIndex.set(hostId, i), i);
      }
    }
    this.hostRefs.push({ hostId, underlay });
    this.hostIndex.set(hostId, this.hostRefs.length - 1);
    return this.hostRefs.length - 1;
  }

  private vmIdAt(slot: number): string {
    const off = this.slots[(slot << 2) + 2]!;
    return this.arena.toString('latin1', off, off + this.slots[(slot << 2) + 3]!);
  }

  private sameVmId(slot: number, vmId: string): boolean {
    const len = this.slots[(slot << 2) + 3]!;
    if (len !== vmId.length) return false;
    const off = this.slots[(slot << 2) + 2]!;
    const a = this.arena;
    for (let i = 0; i < len; i++) if (a[off + i] !== vmId.charCodeAt(i)) return false;
    return true;
  }

  private storeVmId(vmId: string): number {
    const n = vmId.length;
    if (n > MAX_VM_ID) throw new RangeError(`VM id longer than ${MAX_VM_ID} characters: ${vmId.slice(0, 40)}…`);
    if (this.arenaUsed + n > this.arena.length) this.growArena(n);
    const off = this.arenaUsed;
    const a = this.arena;
    // A loop, not Buffer#write: ids are a dozen characters, less than a native call costs.
    for (let i = 0; i < n; i++) {
      const c = vmId.charCodeAt(i);
      if (c > 127) throw new RangeError(`VM id is not ASCII: ${JSON.stringify(vmId)}`);
      a[off + i] = c;
    }
    this.arenaUsed += n;
    return off;
  }

  private growArena(need: number): void {
    // Mostly dead: compact in place of growing.
    if (this.arenaDead > this.arenaUsed / 2) this.compactArena();
    if (this.arenaUsed + need <= this.arena.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.arena.length * 2, this.arenaUsed + need));
    this.arena.copy(next, 0, 0, this.arenaUsed);
    this.arena = next;
  }

  private compactArena(): void {
    const next = Buffer.allocUnsafe(this.arena.length);
    const s = this.slots;
    let at = 0;
    for (let b = 0; b < s.length; b += 4) {
      if (s[b + 1] === EMPTY) continue;
      const off = s[b + 2]!;
      const len = s[b + 3]!;
      this.arena.copy(next, at, off, off + len);
      s[b + 2] = at;
      at += len;
    }
    this.arena = next;
    this.arenaUsed = at;
    this.arenaDead = 0;
  }

  private rehash(cap: number): void {
    const old = this.slots;
    const s = new Uint32Array(cap * 4);
    const mask = cap - 1;
    for (let b = 0; b < old.length; b += 4) {
      if (old[b + 1] === EMPTY) continue;
      let j = slotOf(old[b]!, mask);
      while (s[(j << 2) + 1] !== EMPTY) j = (j + 1) & mask;
      const d = j << 2;
      s[d] = old[b]!;
      s[d + 1] = old[b + 1]!;
      s[d + 2] = old[b + 2]!;
      s[d + 3] = old[b + 3]!;
    }
    this.slots = s;
    this.mask = mask;
  }

  /** Sets the entry of `ip` (a u32 address). */
  setU32(ip: number, vmId: string, hostId: string, underlay: string): void {
    let slot = this.find(ip);
    if (slot >= 0) {
      const b = slot << 2;
      if (!this.sameVmId(slot, vmId)) {
        const oldLen = this.slots[b + 3]!;
        const off = this.storeVmId(vmId); // may throw, or compact (still counting the old id as live)
        this.arenaDead += oldLen;
        this.slots[b + 2] = off;
        this.slots[b + 3] = vmId.length;
      }
      this.slots[b + 1] = this.hostRef(hostId, underlay) + 1;
      return;
    }
    if ((this.count + 1) * 4 > (this.mask + 1) * 3) this.rehash((this.mask + 1) * 2);
    const mask = this.mask;
    const s = this.slots;
    for (slot = slotOf(ip, mask); s[(slot << 2) + 1] !== EMPTY; slot = (slot + 1) & mask);
    const off = this.storeVmId(vmId);
    const b = slot << 2;
    s[b] = ip;
    s[b + 1] = this.hostRef(hostId, underlay) + 1;
    s[b + 2] = off;
    s[b + 3] = vmId.length;
    this.count++;
  }

  /** Sets the entry of a dotted-quad `ip`. */
  set(ip: string, t: Tunnel): this {
    const key = ipToU32(ip);
    if (key < 0) throw new RangeError(`not an IPv4 address: ${JSON.stringify(ip)}`);
    this.setU32(key, t.vmId, t.hostId, t.underlay);
    return this;
  }

  /** Deletes the entry of `ip` (u32) when it belongs to `vmId` (any VM when undefined). */
  deleteU32(ip: number, vmId?: string): boolean {
    let slot = this.find(ip);
    if (slot < 0 || (vmId !== undefined && !this.sameVmId(slot, vmId))) return false;
    const s = this.slots;
    const mask = this.mask;
    this.arenaDead += s[(slot << 2) + 3]!;
    this.count--;
    // Backward-shift deletion: pull later entries of the probe run into the hole.
    for (let j = (slot + 1) & mask; s[(j << 2) + 1] !== EMPTY; j = (j + 1) & mask) {
      const home = slotOf(s[j << 2]!, mask);
      // Entry j may move to `slot` when its home is not in (slot, j] (cyclically).
      const between = slot <= j ? home > slot && home <= j : home > slot || home <= j;
      if (between) continue;
      s.copyWithin(slot << 2, j << 2, (j << 2) + 4);
      slot = j;
    }
    s[(slot << 2) + 1] = EMPTY;
    if (this.count === 0) (this.arenaUsed = 0), (this.arenaDead = 0);
    return true;
  }

  delete(ip: string, vmId?: string): boolean {
    const key = ipToU32(ip);
    return key >= 0 && this.deleteU32(key, vmId);
  }

  private tunnelAt(slot: number): Tunnel {
    const h = this.hostRefs[this.slots[(slot << 2) + 1]! - 1]!;
    return { vmId: this.vmIdAt(slot), hostId: h.hostId, underlay: h.underlay };
  }

  getU32(ip: number): Tunnel | undefined {
    const slot = this.find(ip);
    return slot < 0 ? undefined : this.tunnelAt(slot);
  }

  get(ip: string): Tunnel | undefined {
    const key = ipToU32(ip);
    return key < 0 ? undefined : this.getU32(key);
  }

  has(ip: string): boolean {
    const key = ipToU32(ip);
    return key >= 0 && this.find(key) >= 0;
  }

  *entries(): MapIterator<[string, Tunnel]> {
    for (let i = 0; i <= this.mask; i++) if (this.slots[(i << 2) + 1] !== EMPTY) yield [u32ToIp(this.slots[i << 2]!), this.tunnelAt(i)];
  }

  *keys(): MapIterator<string> {
    for (let i = 0; i <= this.mask; i++) if (this.slots[(i << 2) + 1] !== EMPTY) yield u32ToIp(this.slots[i << 2]!);
  }

  *values(): MapIterator<Tunnel> {
    for (let i = 0; i <= this.mask; i++) if (this.slots[(i << 2) + 1] !== EMPTY) yield this.tunnelAt(i);
  }

  [Symbol.iterator](): MapIterator<[string, Tunnel]> {
    return this.entries();
  }

  forEach(f: (value: Tunnel, key: string, map: ReadonlyMap<string, Tunnel>) => void): void {
    for (const [k, v] of this.entries()) f(v, k, this);
  }

  /**
   * The entries as columns sorted by address, hosts numbered in order of first use: equal
   * tables give equal columns, whatever order their entries were set in.
   */
  toColumns(): TunnelColumns {
    const n = this.count;
    const s = this.slots;
    const ips = new Uint32Array(n);
    let k = 0;
    for (let b = 0; b < s.length; b += 4) if (s[b + 1] !== EMPTY) ips[k++] = s[b]!;
    ips.sort();
    const hosts = new Uint32Array(n);
    const vmLen = new Uint8Array(n);
    const renumber = new Int32Array(this.hostRefs.length).fill(-1);
    const hostRefs: HostRef[] = [];
    let bytes = 0;
    const offs = new Uint32Array(n);
    for (let e = 0; e < n; e++) {
      const b = this.find(ips[e]!) << 2;
      const h = s[b + 1]! - 1;
      if (renumber[h] === -1) (renumber[h] = hostRefs.length), hostRefs.push(this.hostRefs[h]!);
      hosts[e] = renumber[h]!;
      offs[e] = s[b + 2]!;
      vmLen[e] = s[b + 3]!;
      bytes += vmLen[e]!;
    }
    const vmBytes = Buffer.allocUnsafe(bytes);
    let at = 0;
    for (let e = 0; e < n; e++) at += this.arena.copy(vmBytes, at, offs[e]!, offs[e]! + vmLen[e]!);
    return { ips, hosts, vmLen, vmBytes, hostRefs };
  }

  /** A table from {@link toColumns}' output (trusted input: a snapshot this build wrote). */
  static fromColumns(c: TunnelColumns): TunnelTable {
    const n = c.ips.length;
    const t = new TunnelTable(n, 64);
    t.arena = Buffer.from(c.vmBytes);
    t.arenaUsed = c.vmBytes.length;
    t.hostRefs.push(...c.hostRefs);
    c.hostRefs.forEach((h, i) => t.hostIndex.set(h.hostId, i));
    const { slots, mask } = t;
    let off = 0;
    for (let e = 0; e < n; e++) {
      const ip = c.ips[e]!;
      let j = slotOf(ip, mask);
      while (slots[(j << 2) + 1] !== EMPTY) {
        if (slots[j << 2] === ip) throw new Error(`tunnel table columns hold ${u32ToIp(ip)} twice`);
        j = (j + 1) & mask;
      }
      const h = c.hosts[e]!;
      if (h >= c.hostRefs.length) throw new Error(`tunnel table columns: host index ${h} out of range`);
      const b = j << 2;
      slots[b] = ip;
      slots[b + 1] = h + 1;
      slots[b + 2] = off;
      slots[b + 3] = c.vmLen[e]!;
      off += c.vmLen[e]!;
    }
    if (off !== c.vmBytes.length) throw new Error('tunnel table columns: VM id bytes do not add up');
    t.count = n;
    return t;
  }

  /** An independent copy (typed-array copies: cheap even for a million entries). */
  clone(): TunnelTable {
    const c = new TunnelTable(MIN_CAPACITY, 64);
    c.slots = this.slots.slice();
    c.mask = this.mask;
    c.count = this.count;
    c.arena = Buffer.from(this.arena.subarray(0, Math.max(this.arenaUsed, 64)));
    c.arenaUsed = this.arenaUsed;
    c.arenaDead = this.arenaDead;
    c.hostRefs.push(...this.hostRefs);
    for (const [k, v] of this.hostIndex) c.hostIndex.set(k, v);
    return c;
  }
}
