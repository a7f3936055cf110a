import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Tunnel } from './table';
import { ipToU32, TunnelTable, u32ToIp } from './tunnels';

/** Operations on a table and on a plain Map model of it. */
type Op =
  | { readonly kind: 'set'; readonly ip: string; readonly t: Tunnel }
  | { readonly kind: 'delete'; readonly ip: string; readonly vmId: string | undefined };

// Few addresses and few VM ids, so that sets overwrite, deletes hit and probe runs collide.
const ipArb = fc.integer({ min: 0, max: 40 }).map((n) => u32ToIp((10 << 24) + n * 4096));
const vmArb = fc.constantFrom('a', 'vm-1', 'vm-22', 'vm-333', 'x'.repeat(63));
const hostArb = fc.constantFrom('h1', 'h2', 'h3');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('set' as const),
    ip: ipArb,
    t: fc.record({ vmId: vmArb, hostId: hostArb, underlay: fc.constantFrom('127.0.1.1:6081', '127.0.1.2:6081') }).map((t): Tunnel => ({ ...t })),
  }),
  fc.record({ kind: fc.constant('delete' as const), ip: ipArb, vmId: fc.option(vmArb, { nil: undefined }) }),
);

function apply(table: TunnelTable, model: Map<string, Tunnel>, op: Op): void {
  if (op.kind === 'set') {
    table.set(op.ip, op.t);
    model.set(op.ip, op.t);
  } else {
    const expected = model.has(op.ip) && (op.vmId === undefined || model.get(op.ip)!.vmId === op.vmId);
    assert.equal(table.delete(op.ip, op.vmId), expected);
    if (expected) model.delete(op.ip);
  }
}

const sorted = (m: Iterable<[string, Tunnel]>) => [...m].sort(([a], [b]) => ipToU32(a) - ipToU32(b));

describe('TunnelTable', () => {
  it('behaves like a Map of dotted quads to tunnels under any sequence of sets and deletes', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 300 }), (ops) => {
        const table = new TunnelTable();
        const model = new Map<string, Tunnel>();
        for (const op of ops) {
          apply(table, model, op);
          assert.equal(table.size, model.size);
        }
        for (const [ip, t] of model) assert.deepEqual(table.get(ip), t);
        assert.deepEqual(sorted(table), sorted(model));
        for (let n = 0; n <= 40; n++) {
          const ip = u32ToIp((10 << 24) + n * 4096);
          assert.equal(table.has(ip), model.has(ip), ip);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('round-trips through columns, whatever order the entries were set in', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
        const a = new TunnelTable();
        const model = new Map<string, Tunnel>();
        for (const op of ops) apply(a, model, op);
        // The same final entries, set in reverse order into a fresh table.
        const b = new TunnelTable();
        for (const [ip, t] of [...model].reverse()) b.set(ip, t);
        const ca = a.toColumns();
        assert.deepEqual(ca, b.toColumns(), 'equal tables give equal columns');
        const back = TunnelTable.fromColumns(ca);
        assert.deepEqual(sorted(back), sorted(model));
        assert.deepEqual(back.toColumns(), ca);
      }),
      { numRuns: 100 },
    );
  });

  it('grows past many entries and reclaims the bytes of overwritten VM ids', () => {
    const t = new TunnelTable();
    const n = 50_000;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < n; i++) t.setU32(0x0a000000 + i, `vm-${round}-${i}`, `h${i % 7}`, `127.0.1.${i % 7}:6081`);
    }
    assert.equal(t.size, n);
    assert.deepEqual(t.get('10.0.0.5'), { vmId: 'vm-3-5', hostId: 'h5', underlay: '127.0.1.5:6081' });
    for (let i = 0; i < n; i += 2) assert.equal(t.deleteU32(0x0a000000 + i, `vm-3-${i}`), true);
    assert.equal(t.size, n / 2);
    for (let i = 0; i < n; i++) assert.equal(t.getU32(0x0a000000 + i)?.vmId, i % 2 === 0 ? undefined : `vm-3-${i}`);
  });

  it('keeps a host that changed its underlay apart per entry', () => {
    const t = new TunnelTable();
    t.set('10.0.0.1', { vmId: 'a', hostId: 'h1', underlay: '127.0.1.1:6081' });
    t.set('10.0.0.2', { vmId: 'b', hostId: 'h1', underlay: '127.0.1.9:6081' });
    t.set('10.0.0.3', { vmId: 'c', hostId: 'h1', underlay: '127.0.1.1:6081' });
    assert.equal(t.get('10.0.0.1')?.underlay, '127.0.1.1:6081');
    assert.equal(t.get('10.0.0.2')?.underlay, '127.0.1.9:6081');
    assert.equal(t.get('10.0.0.3')?.underlay, '127.0.1.1:6081');
  });

  it('is copied, not shared, by clone', () => {
    const t = new TunnelTable();
    t.set('10.0.0.1', { vmId: 'a', hostId: 'h1', underlay: '127.0.1.1:6081' });
    const c = t.clone();
    t.set('10.0.0.1', { vmId: 'b', hostId: 'h2', underlay: '127.0.1.2:6081' });
    t.set('10.0.0.2', { vmId: 'c', hostId: 'h2', underlay: '127.0.1.2:6081' });
    assert.deepEqual([...c], [['10.0.0.1', { vmId: 'a', hostId: 'h1', underlay: '127.0.1.1:6081' }]]);
    assert.equal(t.size, 2);
  });

  it('refuses what it cannot hold, saying what', () => {
    const t = new TunnelTable();
    assert.throws(() => t.set('10.0.0.300', { vmId: 'a', hostId: 'h', underlay: 'x:1' }), /not an IPv4 address/);
    assert.throws(() => t.set('10.0.0.1', { vmId: 'é', hostId: 'h', underlay: 'x:1' }), /not ASCII/);
    assert.equal(t.get('10.00.0.1'), undefined, 'non-canonical spellings are no address');
  });

  it('parses only canonical dotted quads', () => {
    for (const [s, n] of [['0.0.0.0', 0], ['255.255.255.255', 0xffffffff], ['10.1.2.3', 0x0a010203]] as const) assert.equal(ipToU32(s), n);
    for (const s of ['', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.256', '1..2.3', 'a.b.c.d', '1.2.3.4 ']) assert.equal(ipToU32(s), -1, s);
  });
});
