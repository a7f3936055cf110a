/**
 * The userspace data plane over loopback: three host agents' data planes on 127.0.1.1/2/3
 * (ephemeral underlay ports), simulated VMs as plain UDP sockets on 127.0.0.1, two VNIs
 * (1001, 1002) with overlapping addresses. Tables come from the real fold (`evolve`) and
 * `desiredFrom`, as the agent will program them.
 *
 *   VNI 1001: a1 10.0.0.1 @h1, a2 10.0.0.2 @h2, a3 10.0.0.3 @h1, a4 10.0.0.4 @h3
 *   VNI 1002: b1 10.0.0.1 @h2, b2 10.0.0.2 @h1
 * so h1 and h2 each hold a VM with the other VNI's destination address: a packet that
 * crossed VNIs would be delivered locally to the wrong VM.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { decodeVnetFrame, encodeVnetFrame, IP_PROTOCOL, VNET_TOKEN_LENGTH } from '@vnet/geneve';
import { createDataPlane, type DataPlane } from '../src/adapters/dataplane';
import { Endpoint, WAIT_MS, ipv4Packet } from './support';
import { desiredFrom } from '../src/domain/desired';
import { evolve, initialTables, type HostTables, type TableEvent } from '../src/domain/table';


const VMS = [
  { vmId: 'a1', vni: 1001, ip: '10.0.0.1', host: 'h1' },
  { vmId: 'a2', vni: 1001, ip: '10.0.0.2', host: 'h2' },
  { vmId: 'a3', vni: 1001, ip: '10.0.0.3', host: 'h1' },
  { vmId: 'a4', vni: 1001, ip: '10.0.0.4', host: 'h3' },
  { vmId: 'b1', vni: 1002, ip: '10.0.0.1', host: 'h2' },
  { vmId: 'b2', vni: 1002, ip: '10.0.0.2', host: 'h1' },
] as const;
const HOSTS = ['h1', 'h2', 'h3'] as const;
type HostId = (typeof HOSTS)[number];

describe('data plane over loopback', () => {
  const dp = {} as Record<HostId, DataPlane>;
  const tables = {} as Record<HostId, HostTables>;
  const vm: Record<string, Endpoint> = {};
  let spy: Endpoint;
  let outsider: Endpoint;
  let pos = 0;
  const fold = (h: HostId, ...events: Omit<TableEvent, 'position'>[]): void => {
    for (const e of events) tables[h] = evolve(tables[h], { ...e, position: ++pos } as TableEvent);
  };
  const portOf = (h: HostId, vmId: string): string => `127.0.0.1:${dp[h].vmPorts().find((p) => p.vmId === vmId)!.port}`;
  const hostOf = (vmId: string): HostId => VMS.find((v) => v.vmId === vmId)!.host;
  const drops = (h: HostId) => dp[h].counters().drops;

  before(async () => {
    for (const [i, h] of HOSTS.entries()) {
      dp[h] = await createDataPlane({ hostId: h, underlay: `127.0.1.${i + 1}:0` });
      tables[h] = initialTables(h);
    }
    spy = await Endpoint.open('127.0.1.9');
    outsider = await Endpoint.open('127.0.1.8');
    for (const v of VMS) vm[v.vmId] = await Endpoint.open();
    for (const h of HOSTS) {
      for (const v of VMS) {
        if (v.host === h) fold(h, { type: 'HostVmAttached', payload: { hostId: h, vmId: v.vmId, vni: v.vni, ip: v.ip } });
      }
      for (const v of VMS) {
        fold(h, { type: 'VmMappingAdded', payload: { vni: v.vni, ip: v.ip, vmId: v.vmId, hostId: v.host, underlay: dp[v.host].underlay } });
      }
      // A remote "host" that is a plain socket: what goes on the wire, seen from outside.
      fold(h, { type: 'VmMappingAdded', payload: { vni: 1001, ip: '10.0.0.50', vmId: 'spy', hostId: 'hx', underlay: spy.address } });
      const r = await dp[h].apply(desiredFrom(tables[h]));
      assert.deepEqual(r.failed, []);
      assert.ok(r.changed);
    }
    for (const v of VMS) dp[v.host].attachVm(v.vmId, vm[v.vmId]!.address);
  });

  after(async () => {
    await Promise.all(HOSTS.map((h) => dp[h]?.close()));
    await Promise.all([spy, outsider, ...Object.values(vm)].filter(Boolean).map((e) => e.close()));
  });

  /** Sends from `from` a packet to `dstIp` and returns it. */
  const send = (from: string, src: string, dstIp: string, payload: string, protocol?: number): Buffer => {
    const p = ipv4Packet(src, dstIp, payload, protocol);
    vm[from]!.send(p, portOf(hostOf(from), from));
    return p;
  };

  it('opens one VM port per local VM', () => {
    assert.deepEqual(
      dp.h1.vmPorts().map(({ vmId, vni, ip }) => ({ vmId, vni, ip })),
      [
        { vmId: 'a1', vni: 1001, ip: '10.0.0.1' },
        { vmId: 'a3', vni: 1001, ip: '10.0.0.3' },
        { vmId: 'b2', vni: 1002, ip: '10.0.0.2' },
      ],
    );
    assert.equal(dp.h1.vmPorts()[0]!.peer, vm.a1!.address);
    assert.equal(dp.h3.vmPorts().length, 1);
  });

  it('delivers within each VNI across hosts, never across VNIs', async () => {
    const p1 = send('a1', '10.0.0.1', '10.0.0.2', 'a1->a2');
    assert.deepEqual(await vm.a2!.recv(), p1);
    const p2 = send('b1', '10.0.0.1', '10.0.0.2', 'b1->b2');
    assert.deepEqual(await vm.b2!.recv(), p2);
    const p3 = send('b2', '10.0.0.2', '10.0.0.1', 'b2->b1');
    assert.deepEqual(await vm.b1!.recv(), p3);
    const p4 = send('a2', '10.0.0.2', '10.0.0.1', 'a2->a1', IP_PROTOCOL.ICMP);
    assert.deepEqual(await vm.a1!.recv(), p4);
    const p5 = send('a1', '10.0.0.1', '10.0.0.4', 'a1->a4 on h3');
    assert.deepEqual(await vm.a4!.recv(), p5);
    await Promise.all(Object.values(vm).map((e) => e.quiet()));
  });

  it('delivers between two VMs of the same host without the underlay', async () => {
    const before = dp.h1.counters();
    const p = send('a1', '10.0.0.1', '10.0.0.3', 'local');
    assert.deepEqual(await vm.a3!.recv(), p);
    const now = dp.h1.counters();
    assert.equal(now.underlayTxPackets, before.underlayTxPackets);
    assert.equal(now.localPackets, before.localPackets + 1);
    await vm.b2!.quiet();
  });

  it('puts a Geneve frame with the VNI, the placeholder token and the packet unchanged on the wire', async () => {
    const p = send('a3', '10.0.0.3', '10.0.0.50', 'to the spy');
    const frame = await spy.recv();
    const d = decodeVnetFrame(frame);
    assert.ok(d.ok, d.ok ? '' : d.reason);
    assert.equal(d.value.vni, 1001);
    assert.equal(d.value.token.keyId, 0);
    assert.deepEqual(Buffer.from(d.value.token.token), Buffer.alloc(VNET_TOKEN_LENGTH));
    assert.deepEqual(Buffer.from(d.value.geneve.payload), p);
    assert.equal(frame.length, 36 + p.length);
  });

  it('drops and counts an unknown destination, a spoofed source and a malformed packet', async () => {
    const before = drops('h1');
    send('a1', '10.0.0.1', '10.0.0.99', 'nobody');
    send('a1', '10.0.0.2', '10.0.0.3', 'spoofed as a2');
    send('b2', '10.0.0.2', '10.0.0.3', 'a3 is not in VNI 1002');
    vm.a1!.send(Buffer.from('not an ip packet'), portOf('h1', 'a1'));
    await Promise.all(Object.values(vm).map((e) => e.quiet()));
    const now = drops('h1');
    assert.equal(now['no-route'], before['no-route'] + 2);
    assert.equal(now['spoofed-source'], before['spoofed-source'] + 1);
    assert.equal(now['bad-inner'], before['bad-inner'] + 1);
  });

  it('drops garbage and frames for no local VM on the underlay, counted by reason, and keeps forwarding', async () => {
    const before = drops('h2');
    const token = { keyId: 0, expiresAt: 0, token: new Uint8Array(VNET_TOKEN_LENGTH) };
    outsider.send(Buffer.from([1, 2, 3]), dp.h2.underlay);
    outsider.send(Buffer.alloc(64, 0xc0), dp.h2.underlay);
    outsider.send(encodeVnetFrame(1002, token, ipv4Packet('10.0.0.2', '10.0.0.2', 'a2 is in 1001')), dp.h2.underlay);
    outsider.send(encodeVnetFrame(7777, token, ipv4Packet('10.0.0.2', '10.0.0.1', 'no such VNI')), dp.h2.underlay);
    const junkInner = encodeVnetFrame(1001, token, Buffer.from('x'.repeat(30)));
    outsider.send(junkInner, dp.h2.underlay);
    await Promise.all([vm.a2!.quiet(), vm.b1!.quiet()]);
    const now = drops('h2');
    assert.equal(now.truncated, before.truncated + 1);
    assert.equal(now['bad-version'], before['bad-version'] + 1);
    assert.equal(now['no-local-vm'], before['no-local-vm'] + 2);
    assert.equal(now['ipv4-bad-version'], before['ipv4-bad-version'] + 1);
    const p = send('a1', '10.0.0.1', '10.0.0.2', 'still alive');
    assert.deepEqual(await vm.a2!.recv(), p);
  });

  it('applying the same desired state again changes nothing and loses no packet', async () => {
    const ports = dp.h1.vmPorts();
    const n = 200;
    const got: Buffer[] = [];
    const receiving = (async () => {
      while (got.length < n) got.push(await vm.a2!.recv());
    })();
    for (let i = 0; i < n; i++) {
      send('a1', '10.0.0.1', '10.0.0.2', `seq ${i}`);
      if (i % 50 === 0) {
        const r = await dp.h1.apply(desiredFrom(tables.h1));
        assert.equal(r.changed, false);
        assert.deepEqual(r.failed, []);
      }
      if (i % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    await receiving;
    assert.deepEqual(new Set(got.map((b) => b.subarray(20).toString())), new Set(Array.from({ length: n }, (_, i) => `seq ${i}`)));
    assert.deepEqual(dp.h1.vmPorts(), ports);
  });

  it('learns a new VM\'s address from its first packet; until then counts it as not attached', async () => {
    fold('h3', { type: 'HostVmAttached', payload: { hostId: 'h3', vmId: 'b3', vni: 1002, ip: '10.0.0.3' } });
    const mapping = { type: 'VmMappingAdded', payload: { vni: 1002, ip: '10.0.0.3', vmId: 'b3', hostId: 'h3', underlay: dp.h3.underlay } } as const;
    fold('h3', mapping);
    fold('h2', mapping);
    fold('h3', { type: 'VmMappingAdded', payload: { vni: 1002, ip: '10.0.0.1', vmId: 'b1', hostId: 'h2', underlay: dp.h2.underlay } });
    const r3 = await dp.h3.apply(desiredFrom(tables.h3));
    assert.deepEqual(r3.vmsAdded, ['b3']);
    assert.equal(r3.routesAdded, 2);
    const r2 = await dp.h2.apply(desiredFrom(tables.h2));
    assert.deepEqual([r2.vmsAdded, r2.routesAdded, r2.routesChanged, r2.routesRemoved], [[], 1, 0, 0]);
    vm.b3 = await Endpoint.open();
    const before = drops('h3')['vm-not-attached'];
    send('b1', '10.0.0.1', '10.0.0.3', 'too early');
    const deadline = Date.now() + WAIT_MS;
    while (drops('h3')['vm-not-attached'] === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(drops('h3')['vm-not-attached'], before + 1);
    assert.equal(dp.h3.vmPorts().find((p) => p.vmId === 'b3')!.peer, undefined);
    const hello = ipv4Packet('10.0.0.3', '10.0.0.1', 'hello from b3');
    vm.b3.send(hello, portOf('h3', 'b3'));
    assert.deepEqual(await vm.b1!.recv(), hello);
    assert.equal(dp.h3.vmPorts().find((p) => p.vmId === 'b3')!.peer, vm.b3.address);
    const p = send('b1', '10.0.0.1', '10.0.0.3', 'now attached');
    assert.deepEqual(await vm.b3.recv(), p);
  });

  it('removing a VM from the desired state closes its port and stops delivery to it', async () => {
    const port = Number(portOf('h1', 'a3').split(':')[1]);
    fold('h1', { type: 'HostVmDetached', payload: { hostId: 'h1', vmId: 'a3', vni: 1001, ip: '10.0.0.3' } });
    const r = await dp.h1.apply(desiredFrom(tables.h1));
    assert.deepEqual([r.vmsRemoved, r.vmsAdded, r.routesRemoved], [['a3'], [], 0]);
    assert.deepEqual(dp.h1.vmPorts().map((p) => p.vmId), ['a1', 'b2']);
    // The port is free again: it can be bound.
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.bind(port, '127.0.0.1', () => resolve());
    });
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const before = drops('h1')['no-local-vm'];
    send('a1', '10.0.0.1', '10.0.0.3', 'a3 is gone');
    await vm.a3!.quiet();
    assert.equal(drops('h1')['no-local-vm'], before + 1);
    // Its mapping removed too: now no route.
    fold('h1', { type: 'VmMappingRemoved', payload: { vni: 1001, ip: '10.0.0.3', vmId: 'a3', hostId: 'h1' } });
    const r2 = await dp.h1.apply(desiredFrom(tables.h1));
    assert.deepEqual([r2.vmsRemoved, r2.routesRemoved, r2.routesAdded], [[], 1, 0]);
    const noRoute = drops('h1')['no-route'];
    send('a1', '10.0.0.1', '10.0.0.3', 'no route now');
    await vm.a3!.quiet();
    assert.equal(drops('h1')['no-route'], noRoute + 1);
  });

  it('counts traffic', () => {
    const c = dp.h1.counters();
    assert.ok(c.vmRxPackets > 200 && c.underlayTxPackets > 200 && c.vmTxPackets > 0 && c.underlayRxPackets > 0);
    assert.ok(c.vmRxBytes > c.vmRxPackets * 20);
    assert.equal(c.drops['send-error'], 0);
  });
});

describe('data plane apply (one host)', () => {
  let dp: DataPlane | undefined;
  const eps: Endpoint[] = [];
  after(async () => {
    await dp?.close();
    await Promise.all(eps.map((e) => e.close()));
  });

  it('uses fixed VM ports, re-points a changed route, keeps a changed VM\'s port and reports bad entries', async () => {
    const free = await Endpoint.open();
    const fixed = Number(free.address.split(':')[1]);
    await free.close();
    dp = await createDataPlane({ hostId: 'h1', underlay: '127.0.1.1:0', vmPorts: { a1: fixed } });
    const [a1, oldHost, newHost] = [await Endpoint.open(), await Endpoint.open('127.0.1.5'), await Endpoint.open('127.0.1.6')];
    eps.push(a1, oldHost, newHost);
    const tunnels = (underlay: string) =>
      new Map([[1001, new Map([['10.0.0.2', { vmId: 'a2', hostId: 'h2', underlay }], ['10.0.0.7', { vmId: 'a7', hostId: 'h7', underlay: 'nowhere' }]])]]);
    const vms = [{ vmId: 'a1', vni: 1001, ip: '10.0.0.1' }, { vmId: 'bad', vni: 1001, ip: '10.0.0.300' }];
    const r1 = await dp.apply({ vms, tunnels: tunnels(oldHost.address) });
    assert.deepEqual(r1.failed.map((f) => f.id).sort(), ['1001/10.0.0.7', 'bad']);
    assert.deepEqual([r1.vmsAdded, r1.routesAdded], [['a1'], 1]);
    assert.deepEqual(dp.vmPorts(), [{ vmId: 'a1', vni: 1001, ip: '10.0.0.1', port: fixed }]);
    dp.attachVm('a1', a1.address);
    assert.throws(() => dp!.attachVm('nope', a1.address));
    assert.throws(() => dp!.attachVm('a1', 'no-port'));

    a1.send(ipv4Packet('10.0.0.1', '10.0.0.2', 'before the move'), `127.0.0.1:${fixed}`);
    assert.ok(decodeVnetFrame(await oldHost.recv()).ok);

    // The destination moved to another host: only that route changes.
    const r2 = await dp.apply({ vms, tunnels: tunnels(newHost.address) });
    assert.deepEqual([r2.vmsAdded, r2.vmsRemoved, r2.routesAdded, r2.routesChanged, r2.routesRemoved], [[], [], 0, 1, 0]);
    a1.send(ipv4Packet('10.0.0.1', '10.0.0.2', 'after the move'), `127.0.0.1:${fixed}`);
    const f = decodeVnetFrame(await newHost.recv());
    assert.ok(f.ok);
    assert.equal(Buffer.from(f.value.inner.payload).toString(), 'after the move');
    await oldHost.quiet();

    // The VM got another address: same port, same peer, the new source is the only one allowed.
    const r3 = await dp.apply({ vms: [{ vmId: 'a1', vni: 1001, ip: '10.0.0.9' }], tunnels: tunnels(newHost.address) });
    assert.deepEqual([r3.vmsChanged, r3.vmsRemoved], [['a1'], []]);
    assert.deepEqual(dp.vmPorts(), [{ vmId: 'a1', vni: 1001, ip: '10.0.0.9', port: fixed, peer: a1.address }]);
    const spoofed = dp.counters().drops['spoofed-source'];
    a1.send(ipv4Packet('10.0.0.1', '10.0.0.2', 'old address'), `127.0.0.1:${fixed}`);
    a1.send(ipv4Packet('10.0.0.9', '10.0.0.2', 'new address'), `127.0.0.1:${fixed}`);
    const g = decodeVnetFrame(await newHost.recv());
    assert.ok(g.ok);
    assert.equal(Buffer.from(g.value.inner.payload).toString(), 'new address');
    assert.equal(dp.counters().drops['spoofed-source'], spoofed + 1);

    await dp.close();
    await assert.rejects(dp.apply({ vms, tunnels: new Map() }));
  });
});
