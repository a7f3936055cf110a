/**
 * The network, end to end over real processes: gateway, mapping and three host agents
 * against a real nats-server. Hosts, networks and VMs are published as an external system
 * would; the agents learn where every VM lives only from the log. Two VNIs with
 * overlapping addresses: packets are delivered within each VNI and never across.
 *
 *   VNI 1001 (blue):  blue-1 10.0.0.1 @h1, blue-2 10.0.0.2 @h2, blue-3 10.0.0.3 @h3
 *   VNI 1002 (green): green-1 10.0.0.1 @h2, green-2 10.0.0.2 @h3
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import type { EventStore, StorableEvent } from '@vnet/eventstore';
import { startService, startTestNats, until, type ServiceProcess, type TestNats } from '@vnet/eventstore/testing';
import { freePort } from '@vnet/natsd';
import { vnetTopology } from '@vnet/topology';
import { Endpoint, ipv4Packet } from './support';

const HOSTS = [1, 2, 3].map((n) => ({ hostId: `h${n}`, addr: `127.0.1.${20 + n}` }));
const VMS = [
  { vmId: 'blue-1', networkId: 'blue', vni: 1001, ip: '10.0.0.1', hostId: 'h1' },
  { vmId: 'blue-2', networkId: 'blue', vni: 1001, ip: '10.0.0.2', hostId: 'h2' },
  { vmId: 'blue-3', networkId: 'blue', vni: 1001, ip: '10.0.0.3', hostId: 'h3' },
  { vmId: 'green-1', networkId: 'green', vni: 1002, ip: '10.0.0.1', hostId: 'h2' },
  { vmId: 'green-2', networkId: 'green', vni: 1002, ip: '10.0.0.2', hostId: 'h3' },
];

let nats: TestNats;
let store: EventStore<StorableEvent & Record<string, unknown>>;
const services: ServiceProcess[] = [];
const agents = new Map<string, ServiceProcess>();
const vms = new Map<string, Endpoint>();
const portOf = new Map<string, string>();

async function publish(type: string, payload: Record<string, unknown>, schemaVersion = 1) {
  const id = crypto.randomUUID();
  const ev = { type, schemaVersion, id, causationId: null, correlationId: id, occurredAt: new Date().toISOString(), payload };
  const r = await store.publishRaw(`vnet.ext.${type}`, Buffer.from(JSON.stringify(ev)), { msgId: id });
  assert.ok(E.isRight(r));
}

async function tables(hostId: string): Promise<{ vms: Array<{ vmId: string; port: number }>; tableSize: number; servedVnis: number[] }> {
  return (await fetch(`${agents.get(hostId)!.health}/tables`)).json() as never;
}

before(async () => {
  nats = await startTestNats(vnetTopology());
  store = await nats.connectJson('agents-e2e');
  services.push(await startService('gateway', nats.url), await startService('mapping', nats.url));
  await publish('RegionDeclared', { regionId: 'r1', name: 'Region 1' });
  await publish('DatacenterDeclared', { datacenterId: 'dc1', regionId: 'r1', name: 'DC 1' });
  for (const h of HOSTS) {
    const underlay = `${h.addr}:${await freePort(h.addr)}`;
    await publish('HostRegistered', { hostId: h.hostId, regionId: 'r1', datacenterId: 'dc1', underlay, publicKey: Buffer.alloc(32, 1).toString('base64') }, 2);
  }
  await publish('NetworkCreated', { networkId: 'blue', projectId: 'p', vni: 1001, cidr: '10.0.0.0/24' });
  await publish('NetworkCreated', { networkId: 'green', projectId: 'p', vni: 1002, cidr: '10.0.0.0/24' });
  for (const v of VMS) await publish('VmPlaced', v);
  for (const h of HOSTS) agents.set(h.hostId, await startService('host-agent', nats.url, { env: { VNET_HOST_ID: h.hostId } }));
  // Each agent knows its local VMs and the tunnels of the VNIs it serves.
  const expected: Record<string, number> = { h1: 3, h2: 5, h3: 5 };
  for (const h of HOSTS) {
    await until(async () => ((await tables(h.hostId)).tableSize === expected[h.hostId] ? true : undefined), `${h.hostId} tables`, 20_000);
  }
  // Simulated VMs attach to their agent's VM port (the first packet teaches the agent their address).
  for (const v of VMS) {
    const t = await tables(v.hostId);
    const port = t.vms.find((x) => x.vmId === v.vmId)!.port;
    const ep = await Endpoint.open();
    vms.set(v.vmId, ep);
    portOf.set(v.vmId, `127.0.0.1:${port}`);
    ep.send(ipv4Packet(v.ip, '10.0.0.254', 'hello'), portOf.get(v.vmId)!);
  }
  await new Promise((r) => setTimeout(r, 200));
});

after(async () => {
  for (const ep of vms.values()) await ep.close();
  for (const a of agents.values()) await a.stop();
  for (const s of services) await s.stop();
  await nats?.stop();
});

const send = (from: string, dstIp: string, body: string) => {
  const v = VMS.find((x) => x.vmId === from)!;
  vms.get(from)!.send(ipv4Packet(v.ip, dstIp, body), portOf.get(from)!);
};

describe('host agents over real processes', () => {
  it('each agent serves exactly the VNIs it has VMs in', async () => {
    assert.deepEqual((await tables('h1')).servedVnis, [1001]);
    assert.deepEqual((await tables('h2')).servedVnis, [1001, 1002]);
    assert.deepEqual((await tables('h3')).servedVnis, [1001, 1002]);
  });

  it('delivers within a VNI across hosts, and never across VNIs with the same addresses', async () => {
    for (const ep of vms.values()) ep.drain();
    send('blue-1', '10.0.0.2', 'blue to blue');
    const got = await vms.get('blue-2')!.recv();
    assert.equal(got.subarray(20).toString(), 'blue to blue');
    send('green-1', '10.0.0.2', 'green to green');
    assert.equal((await vms.get('green-2')!.recv()).subarray(20).toString(), 'green to green');
    send('blue-3', '10.0.0.1', 'blue 3 to blue 1');
    assert.equal((await vms.get('blue-1')!.recv()).subarray(20).toString(), 'blue 3 to blue 1');
    await Promise.all([vms.get('green-1')!.quiet(), vms.get('green-2')!.quiet(), vms.get('blue-2')!.quiet()]);
  });

  it('drops and counts a packet to an unknown address', async () => {
    send('blue-1', '10.0.0.77', 'nobody');
    await until(async () => {
      const m = await (await fetch(`${agents.get('h1')!.health}/metrics`)).text();
      const n = Number(/vnet_host_drops_total\{reason="no-route"[^}]*\} (\d+)/.exec(m)?.[1] ?? 0);
      return n >= 2 ? true : undefined; // the hello and this one
    }, 'no-route drops on h1');
    for (const ep of vms.values()) await ep.quiet();
  });

  it('a VM placed later is programmed on every agent that serves its VNI', async () => {
    await publish('VmPlaced', { vmId: 'green-3', networkId: 'green', vni: 1002, ip: '10.0.0.3', hostId: 'h1' });
    await until(async () => ((await tables('h1')).servedVnis.includes(1002) ? true : undefined), 'h1 serves 1002');
    await until(async () => ((await tables('h2')).tableSize === 6 ? true : undefined), 'h2 learned green-3');
    const port = (await tables('h1')).vms.find((x) => x.vmId === 'green-3')!.port;
    const ep = await Endpoint.open();
    vms.set('green-3', ep);
    ep.send(ipv4Packet('10.0.0.3', '10.0.0.1', 'green 3 to green 1'), `127.0.0.1:${port}`);
    assert.equal((await vms.get('green-1')!.recv()).subarray(20).toString(), 'green 3 to green 1');
    await vms.get('blue-1')!.quiet();
  });
});
