/**
 * Live migration end to end, over real processes (gateway, mapping, authorization, token
 * issuer, migration service, three host agents) and a real nats-server.
 *
 *   mv-1 10.9.0.1 on h1 (migrates to h2), snd 10.9.0.3 on h3 (a steady 1,000 packets/s to mv-1)
 *
 * The simulated VM re-attaches to the target's agent when the switch (`VmMoved`) is in the
 * log, like the RARP a hypervisor sends after a live migration: its first packet teaches the
 * target where the VM is.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { until } from '@vnet/eventstore/testing';
import { migrationEnd, startPlane, type Plane, type PlaneVm } from './plane';
import { Endpoint, ipv4Packet } from './support';

const HOSTS = [1, 2, 3, 4].map((n) => ({ hostId: `h${n}`, addr: `127.0.1.${70 + n}` }));
const MV: PlaneVm = { vmId: 'mv-1', networkId: 'mig', vni: 1901, ip: '10.9.0.1', hostId: 'h1' };
const SND: PlaneVm = { vmId: 'snd', networkId: 'mig', vni: 1901, ip: '10.9.0.3', hostId: 'h3' };
const GRACE_MS = 1500;

let plane: Plane;
let mv: Endpoint;
let snd: Endpoint;

const ended = (migrationId: string) => migrationEnd(plane, migrationId);

before(async () => {
  plane = await startPlane('migration-e2e', HOSTS, [{ networkId: 'mig', vni: 1901, cidr: '10.9.0.0/24' }], [MV, SND], {
    migration: { graceMs: GRACE_MS, prepareTimeoutMs: 1500 },
  });
  mv = await Endpoint.open();
  snd = await Endpoint.open();
  mv.send(ipv4Packet(MV.ip, '10.9.0.254', 'hello'), await plane.vmPort(MV));
  snd.send(ipv4Packet(SND.ip, '10.9.0.254', 'hello'), await plane.vmPort(SND));
  await new Promise((r) => setTimeout(r, 200));
});

after(async () => {
  await mv?.close();
  await snd?.close();
  await plane?.stop();
});

describe('live migration', () => {
  it('refuses an unknown target and a VM that is not placed, saying why', async () => {
    await plane.publish('MigrationRequested', { migrationId: 'bad-host', vmId: MV.vmId, toHostId: 'h9' });
    await plane.publish('MigrationRequested', { migrationId: 'bad-vm', vmId: 'nobody', toHostId: 'h2' });
    const a = await ended('bad-host');
    const b = await ended('bad-vm');
    assert.equal(a.type, 'MigrationFailed');
    assert.equal(b.type, 'MigrationFailed');
    assert.equal(a.type === 'MigrationFailed' && a.payload.reason, 'unknown-host');
    assert.equal(b.type === 'MigrationFailed' && b.payload.reason, 'unknown-vm');
  });

  it('moves a VM receiving 1,000 packets/s to another host: it keeps its address and loses fewer than 50 packets', async () => {
    const snd1 = await plane.vmPort(SND);
    const received = new Set<number>();
    mv.socket.on('message', (m: Buffer) => {
      if (m.length === 24) received.add(m.readUInt32BE(20));
    });
    // The sender: 10 packets every 10 ms, sequence-numbered.
    let seq = 0;
    const body = Buffer.alloc(4);
    const timer = setInterval(() => {
      for (let i = 0; i < 10; i++) {
        body.writeUInt32BE(seq++);
        snd.send(ipv4Packet(SND.ip, MV.ip, body), snd1);
      }
    }, 10);
    try {
      await until(async () => (received.size > 200 ? true : undefined), 'the stream reaching mv-1 on h1', 10_000);
      const before = seq;
      await plane.publish('MigrationRequested', { migrationId: 'mig-1', vmId: MV.vmId, toHostId: 'h2' });
      // The VM re-attaches at h2 as soon as h2 has its port (after the switch).
      let port: string | undefined;
      for (const end = Date.now() + 10_000; port === undefined && Date.now() < end; await new Promise((r) => setTimeout(r, 5))) {
        const p = (await plane.tables('h2')).vms.find((v) => v.vmId === MV.vmId)?.port;
        if (p !== undefined) port = `127.0.0.1:${p}`;
      }
      assert.ok(port, 'mv-1 has a port on h2 within 10 s');
      mv.send(ipv4Packet(MV.ip, '10.9.0.254', 'hello'), port);
      const end = await ended('mig-1');
      assert.equal(end.type, 'MigrationCompleted', JSON.stringify(end.payload));
      await new Promise((r) => setTimeout(r, 300));
      const sent = seq;
      clearInterval(timer);
      await new Promise((r) => setTimeout(r, 200));
      let lost = 0;
      for (let i = before; i < sent; i++) if (!received.has(i)) lost++;
      const p = end.type === 'MigrationCompleted' ? end.payload : undefined;
      console.log(`migration mig-1: ${sent - before} packets sent during it, ${lost} lost (${p?.packetsLost} by the system's count); blackout ${p?.blackoutMs} ms from the events, ${p?.forwarded} forwarded by h1`);
      assert.ok(lost < 50, `${lost} packets lost`);
      // The system's own count: what its data planes dropped for the VM (the traffic may lose
      // more, never less).
      assert.ok(p?.packetsLost !== undefined, 'the hosts reported their drops');
      assert.ok(p.packetsLost <= lost, `the system counted ${p.packetsLost} lost, the traffic ${lost}`);
      assert.ok(p && p.blackoutMs !== null, 'the target reported the first packet');
      for (const step of ['keySharedAt', 'targetReadyAt', 'switchedAt', 'firstPacketAt', 'forwardingEndedAt'] as const) assert.ok(p.steps[step], `step ${step}`);
      // h1 no longer runs it; h2 does, and the senders' tables point at h2.
      assert.equal((await plane.tables('h1')).vms.some((v) => v.vmId === MV.vmId), false);
      const h3 = await plane.tables('h3');
      assert.equal(h3.tunnels['1901']?.[MV.ip]?.hostId, 'h2');
    } finally {
      clearInterval(timer);
    }
  });

  it('rolls back when the target dies before taking the VM: the VM keeps working at its source', async () => {
    await plane.agent('h4').stop();
    await plane.publish('MigrationRequested', { migrationId: 'mig-dead', vmId: MV.vmId, toHostId: 'h4' });
    const end = await ended('mig-dead');
    assert.equal(end.type, 'MigrationFailed', JSON.stringify(end.payload));
    assert.equal(end.type === 'MigrationFailed' && end.payload.reason, 'target-unresponsive');
    // Still on h2 (where the previous test moved it), still reachable.
    const t = await plane.tables('h3');
    assert.equal(t.tunnels['1901']?.[MV.ip]?.hostId, 'h2');
    mv.socket.removeAllListeners('message');
    const got = new Promise<Buffer>((resolve) => mv.socket.once('message', resolve));
    snd.send(ipv4Packet(SND.ip, MV.ip, 'still there'), await plane.vmPort(SND));
    const m = await Promise.race([got, new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000))]);
    assert.ok(m, 'mv-1 still gets packets');
  });
});
