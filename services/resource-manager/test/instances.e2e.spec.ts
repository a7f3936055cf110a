/**
 * Creating VMs through the resource graph, as processes against a real nats-server (mapping,
 * image-replication, resource-manager): a request in a region that lacks the image copies it
 * there first, then gets quota, host capacity and addresses from the graph and places the
 * VMs (the mapping service maps them). Requests that cannot be met fail with the reason and
 * leave nothing allocated: one refused before anything was taken, one refused half way
 * (its allocations released, each an event).
 *
 *   r1: dc1 (h1, h2: 4 CPUs, 8 GiB each); r2: dc2 (h3: 4 CPUs, 8 GiB)
 *   project p1 (quota: 6 instances), network net1 (VNI 3001, 10.30.0.0/24)
 *   image `tiny` uploaded in r1 only
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { domainEventCodec, streamNameOf, type DomainEvent, type EventOf } from '@vnet/events';
import { eventFrom } from '@vnet/events/testing';
import type { EventStore } from '@vnet/eventstore';
import { startService, startTestNats, until, type ServiceProcess, type TestNats } from '@vnet/eventstore/testing';
import { openImageBucket, putImageFile } from '@vnet/images';
import { generateHostKeyPair } from '@vnet/tokens';
import { vnetTopology } from '@vnet/topology';
import { emptyGraph, evolve, isGraphEvent, type Graph } from '../src/domain/graph';

let nats: TestNats;
let store: EventStore<DomainEvent>;
let dir: string;
const services: ServiceProcess[] = [];

async function append(type: string, payload: Record<string, unknown>, schemaVersion = 1): Promise<void> {
  const ev = eventFrom(type, payload, { schemaVersion });
  const r = await store.appendToStream(streamNameOf(ev), [ev]);
  assert.ok(E.isRight(r));
}

const outcome = (requestId: string) =>
  until(
    async () => {
      for await (const r of store.readStream(`instances.${requestId}`)) {
        if (r.event.type === 'InstancesCreated' || r.event.type === 'InstancesRequestFailed') return r.event as EventOf<'InstancesCreated'> | EventOf<'InstancesRequestFailed'>;
      }
      return undefined;
    },
    `the outcome of ${requestId}`,
    30_000,
  );

/** The graph as the log has it now. */
async function graphNow(): Promise<Graph> {
  const g = emptyGraph();
  for await (const r of store.readAll({ filter: 'vnet.evt.res.>' })) if (isGraphEvent(r.event)) evolve(g, r.event, r.position);
  return g;
}

const request = (requestId: string, over: Record<string, unknown> = {}) =>
  append('InstancesRequested', { requestId, projectId: 'p1', networkId: 'net1', imageId: 'tiny', regionId: 'r1', count: 1, size: { cpus: 1, memoryMiB: 512 }, ...over });

before(async () => {
  nats = await startTestNats(vnetTopology());
  store = await nats.connect(domainEventCodec, 'instances-e2e');
  dir = mkdtempSync(join(tmpdir(), 'vnet-instances-'));
  for (const r of ['r1', 'r2']) await append('RegionDeclared', { regionId: r, name: `Region ${r}` });
  await append('DatacenterDeclared', { datacenterId: 'dc1', regionId: 'r1', name: 'DC 1' });
  await append('DatacenterDeclared', { datacenterId: 'dc2', regionId: 'r2', name: 'DC 2' });
  for (const [hostId, regionId, datacenterId, n] of [['h1', 'r1', 'dc1', 1], ['h2', 'r1', 'dc1', 2], ['h3', 'r2', 'dc2', 3]] as const) {
    await append(
      'HostRegistered',
      { hostId, regionId, datacenterId, underlay: `127.0.1.${90 + n}:6081`, publicKey: generateHostKeyPair().publicKey, capacity: { cpus: 4, memoryMiB: 8192 } },
      2,
    );
  }
  await append('NetworkCreated', { networkId: 'net1', projectId: 'p1', vni: 3001, cidr: '10.30.0.0/24' });
  await append('ResourceNodeAdded', { node: { kind: 'project', id: 'p1' }, capacity: { instances: 6 } });
  // A VM placed from outside the graph, on the first address the graph would hand out.
  await append('VmPlaced', { vmId: 'ext-1', networkId: 'net1', vni: 3001, ip: '10.30.0.2', hostId: 'h1' });
  const file = join(dir, 'tiny.img');
  writeFileSync(file, randomBytes(1024 * 1024 + 5));
  const up = await putImageFile((await openImageBucket(store, 'r1', true))!, 'tiny', file);
  await append('ImageUploaded', { imageId: 'tiny', name: 'tiny.img', regionId: 'r1', digest: up.digest, size: up.size });
  services.push(
    await startService('mapping', nats.url),
    await startService('image-replication', nats.url),
    await startService('resource-manager', nats.url, { env: { VNET_INSTANCES_IMAGE_WAIT_MS: '20000' } }),
  );
});

after(async () => {
  for (const s of services.reverse()) await s.stop();
  await store?.close();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('instances through the resource graph', () => {
  it('in a region without the image: copies it there, then places the VMs with quota, host capacity and addresses from the graph', async () => {
    await request('req-a', { regionId: 'r2', count: 2, size: { cpus: 2, memoryMiB: 1024 } });
    const end = await outcome('req-a');
    assert.equal(end.type, 'InstancesCreated', JSON.stringify(end.payload));
    const vms = end.type === 'InstancesCreated' ? end.payload.vms : [];
    assert.deepEqual(vms.map((v) => v.vmId).sort(), ['req-a-1', 'req-a-2']);
    assert.ok(vms.every((v) => v.hostId === 'h3'), 'both on the only host of r2');
    assert.equal(new Set(vms.map((v) => v.ip)).size, 2);
    assert.ok(!vms.some((v) => v.ip === '10.30.0.2'), 'the address of the VM placed from outside is not handed out again');
    // The image was copied to r2 before (its copy is in the log, before the VMs).
    let replicated = false;
    for await (const r of store.readStream('image.tiny')) if (r.event.type === 'ImageReplicated' && r.event.payload.regionId === 'r2') replicated = true;
    assert.ok(replicated, 'tiny copied to r2');
    // The mapping service took the placements: the VMs are mapped in their VNI.
    await until(
      async () => {
        const mapped = new Set<string>();
        for await (const r of store.readStream('vni.3001')) if (r.event.type === 'VmMappingAdded') mapped.add(r.event.payload.vmId);
        return vms.every((v) => mapped.has(v.vmId)) ? true : undefined;
      },
      'the VMs mapped',
      10_000,
    );
    const g = await graphNow();
    assert.equal(g.nodes.get('host/h3')!.used.cpus, 4);
    assert.equal(g.nodes.get('host/h3')!.used.memoryMiB, 2048);
    assert.equal(g.nodes.get('project/p1')!.used.instances, 2);
    assert.equal(g.nodes.get('subnet/net1')!.used.ips, 3, 'two VMs of the request and the one placed from outside');
    // Each VM has a NIC holding its address, the address is a node, the image is linked to the regions that have it.
    const ip1 = vms.find((v) => v.vmId === 'req-a-1')!.ip;
    assert.ok(g.held.get('nic/req-a-1-0')?.has('subnet/net1'), 'the NIC holds the address');
    assert.ok(g.nodes.get('nic/req-a-1-0')!.uses.has(`ip/net1-${ip1.replaceAll('.', '-')}`), 'the NIC uses the address node');
    assert.ok(g.nodes.get('region/r2')!.uses.has('image/tiny') && g.nodes.get('region/r1')!.uses.has('image/tiny'));
    // The global view from the CLI: the region's VMs with their image and size.
    const cli = spawnSync(process.execPath, [join(import.meta.dirname, '../../cli/bin/vnet.js'), 'vms', '--region', 'r2'], { env: { ...process.env, NATS_URL: nats.url }, encoding: 'utf8', timeout: 30_000 });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /REGION\s+VM\s+NETWORK\s+IP\s+HOST\s+IMAGE\s+SIZE/);
    assert.match(cli.stdout, new RegExp(`r2\\s+req-a-1\\s+net1\\s+${ip1.replaceAll('.', '\\.')}\\s+h3\\s+tiny\\s+2 CPU / 1024 MiB`));
  });

  it('a request that cannot fit fails before taking anything: no-capacity', async () => {
    await request('req-big', { regionId: 'r2', count: 1, size: { cpus: 2, memoryMiB: 1024 } });
    const end = await outcome('req-big');
    assert.equal(end.type, 'InstancesRequestFailed');
    assert.equal(end.type === 'InstancesRequestFailed' && end.payload.reason, 'no-capacity', JSON.stringify(end.payload));
    assert.equal(end.type === 'InstancesRequestFailed' && end.payload.released, 0);
  });

  it('a request refused half way (quota) releases everything it got, each release an event', async () => {
    // Quota 6, 2 used: 4 VMs get their quota, CPUs, memory and address; the fifth is refused.
    await request('req-many', { count: 5 });
    const end = await outcome('req-many');
    assert.equal(end.type, 'InstancesRequestFailed', JSON.stringify(end.payload));
    const p = end.type === 'InstancesRequestFailed' ? end.payload : undefined;
    assert.equal(p?.reason, 'quota-exceeded');
    assert.equal(p?.released, 16, '4 VMs x (quota, CPUs, memory, address)');
    const g = await graphNow();
    assert.equal(g.nodes.get('project/p1')!.used.instances, 2, 'quota back');
    assert.equal(g.nodes.get('host/h1')!.used.cpus + g.nodes.get('host/h2')!.used.cpus, 0, 'CPUs back');
    assert.equal(g.nodes.get('subnet/net1')!.used.ips, 3, 'addresses back');
    for (let i = 1; i <= 5; i++) assert.equal(g.nodes.get(`vm/req-many-${i}`)?.deleted, true, `vm req-many-${i} deleted`);
    let releases = 0;
    for await (const r of store.readAll({ filter: 'vnet.evt.res.>' })) if (r.event.type === 'ResourceReleased' && r.event.payload.holder.id.startsWith('req-many-')) releases++;
    assert.equal(releases, 16);
    // Nothing of it was placed.
    for await (const r of store.readAll({ filter: 'vnet.evt.vm.>' })) assert.ok(!(r.event.type === 'VmPlaced' && r.event.payload.vmId.startsWith('req-many-')));
  });

  it('a VM deleted gives its address back to the subnet', async () => {
    await append('VmDeleted', { vmId: 'ext-1' });
    await until(async () => ((await graphNow()).nodes.get('subnet/net1')!.used.ips === 2 ? true : undefined), 'the address of ext-1 back', 10_000);
    assert.equal((await graphNow()).nodes.get('vm/ext-1')?.deleted, true);
  });

  it('two instances, six requests at once for more than the region holds: no host over capacity, no address twice, the failed ones hold nothing', async () => {
    services.push(await startService('resource-manager', nats.url, { env: { VNET_INSTANCES_IMAGE_WAIT_MS: '20000' } }));
    await append('NetworkCreated', { networkId: 'net2', projectId: 'p2', vni: 3002, cidr: '10.31.0.0/24' });
    await append('ResourceNodeAdded', { node: { kind: 'project', id: 'p2' }, capacity: { instances: 100 } });
    await until(async () => ((await graphNow()).nodes.get('subnet/net2')?.capacity.ips ? true : undefined), 'subnet net2 in the graph', 10_000);
    // r1 has 8 CPUs free (h1, h2): 6 requests x 2 VMs x 1 CPU cannot all fit.
    const ids = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
    await Promise.all(ids.map((id) => request(id, { projectId: 'p2', networkId: 'net2', count: 2, size: { cpus: 1, memoryMiB: 256 } })));
    const ends = await Promise.all(ids.map((id) => outcome(id)));
    const created = ends.filter((e): e is EventOf<'InstancesCreated'> => e.type === 'InstancesCreated');
    const failed = ends.filter((e): e is EventOf<'InstancesRequestFailed'> => e.type === 'InstancesRequestFailed');
    console.log(`six requests, two instances: ${created.length} created, ${failed.length} failed (${failed.map((f) => f.payload.reason).join(', ')})`);
    assert.ok(created.length >= 1 && created.length <= 4, `${created.length} created`);
    assert.ok(failed.every((f) => f.payload.reason === 'no-capacity'), failed.map((f) => f.payload.detail).join('; '));
    const g = await graphNow();
    for (const h of ['h1', 'h2']) {
      const n = g.nodes.get(`host/${h}`)!;
      assert.ok(n.used.cpus <= 4 && n.used.cpus >= 0, `${h} uses ${n.used.cpus} of 4 CPUs`);
    }
    const vms = created.flatMap((e) => e.payload.vms);
    assert.equal(new Set(vms.map((v) => v.ip)).size, vms.length, 'no address twice');
    assert.equal(g.nodes.get('host/h1')!.used.cpus + g.nodes.get('host/h2')!.used.cpus, vms.length, 'CPUs held = VMs created');
    assert.equal(g.nodes.get('project/p2')!.used.instances, vms.length, 'quota held = VMs created');
    assert.equal(g.nodes.get('subnet/net2')!.used.ips, vms.length, 'addresses held = VMs created');
    for (const f of failed) {
      for (let i = 1; i <= 2; i++) {
        const vm = g.nodes.get(`vm/${f.payload.requestId}-${i}`);
        assert.ok(!vm || vm.deleted, `${f.payload.requestId}-${i} gone`);
        assert.equal(g.held.get(`vm/${f.payload.requestId}-${i}`)?.size ?? 0, 0, `${f.payload.requestId}-${i} holds nothing`);
      }
    }
  });

  it('says why for an unknown network and an image never uploaded', async () => {
    await request('req-nonet', { networkId: 'nope' });
    await request('req-noimg', { imageId: 'ghost' });
    const a = await outcome('req-nonet');
    const b = await outcome('req-noimg');
    assert.equal(a.type === 'InstancesRequestFailed' && a.payload.reason, 'unknown-network');
    assert.equal(b.type === 'InstancesRequestFailed' && b.payload.reason, 'image-unavailable');
  });
});
