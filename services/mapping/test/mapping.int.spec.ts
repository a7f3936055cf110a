/**
 * The mapping process against a real nats-server: inputs appended straight to the log, the
 * decisions read back from `vni.<vni>`, `hostvms.<host>` and `vm.<vm>`; then a SIGKILL in the
 * middle of a stream, a restart, and the proof that every decision is in the log once.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import {
  Cidr,
  DatacenterId,
  domainEventCodec,
  EventId,
  HostId,
  intToIpv4,
  Ipv4,
  ipv4ToInt,
  mustDecode,
  NetworkId,
  newEvent,
  ProjectId,
  PublicKey,
  RegionId,
  streamNameOf,
  UnderlayAddress,
  VmId,
  Vni,
  type DomainEvent,
  type EventOf,
  type PayloadOf,
} from '@vnet/events';
import { ALL_EVENTS, LOG_STREAM, type EventStore } from '@vnet/eventstore';
import { startService, startTestNats, until, type ServiceProcess, type TestNats } from '@vnet/eventstore/testing';
import { vnetTopology } from '@vnet/topology';
import { applyDecision, decide } from '../src/domain/decider';
import { isInput, isOutput } from '../src/domain/messages';
import { initialState } from '../src/domain/state';
import { materialize } from '../src/adapters/mapper';

const hostRegistered = (id: string, n: number) =>
  newEvent('HostRegistered', {
    hostId: mustDecode(HostId, id),
    regionId: mustDecode(RegionId, 'r1'),
    datacenterId: mustDecode(DatacenterId, 'dc1'),
    underlay: mustDecode(UnderlayAddress, `127.0.1.${n}:6081`),
    publicKey: mustDecode(PublicKey, `${'A'.repeat(43)}=`),
  });
const networkCreated = (id: string, vni: number, cidr: string) =>
  newEvent('NetworkCreated', { networkId: mustDecode(NetworkId, id), projectId: mustDecode(ProjectId, 'p1'), vni: mustDecode(Vni, vni), cidr: mustDecode(Cidr, cidr) });
const vmPlaced = (vm: string, host: string, ip: string, network: string, vni: number, correlationId?: string) =>
  newEvent(
    'VmPlaced',
    { vmId: mustDecode(VmId, vm), networkId: mustDecode(NetworkId, network), vni: mustDecode(Vni, vni), ip: mustDecode(Ipv4, ip), hostId: mustDecode(HostId, host) },
    correlationId ? { correlationId: mustDecode(EventId, correlationId) } : {},
  );
const vmDeleted = (vm: string) => newEvent('VmDeleted', { vmId: mustDecode(VmId, vm) });

async function append(store: EventStore<DomainEvent>, ...events: DomainEvent[]): Promise<void> {
  for (const ev of events) {
    const r = await store.appendToStream(streamNameOf(ev), [ev]);
    assert.ok(E.isRight(r), `appended ${ev.type}`);
  }
}

async function readStream(store: EventStore<DomainEvent>, name: string): Promise<DomainEvent[]> {
  const out: DomainEvent[] = [];
  for await (const r of store.readStream(name)) out.push(r.event);
  return out;
}

/** The whole log in order, past records that do not decode (the crash test writes one). */
async function* theLog(store: EventStore<DomainEvent>): AsyncGenerator<DomainEvent> {
  for await (const raw of store.readRaw({ stream: LOG_STREAM, filter: ALL_EVENTS })) {
    const d = domainEventCodec.decode(raw.data);
    if (E.isRight(d)) yield d.right;
  }
}

async function outputsOf(store: EventStore<DomainEvent>, input: DomainEvent): Promise<DomainEvent[] | undefined> {
  const out: DomainEvent[] = [];
  for await (const ev of theLog(store)) if (isOutput(ev) && ev.causationId === input.id) out.push(ev);
  return out.length > 0 ? out : undefined;
}

const payloads = <K extends DomainEvent['type']>(evs: DomainEvent[], type: K): Array<PayloadOf<K>> =>
  evs.filter((e): e is EventOf<K> => e.type === type).map((e) => e.payload as PayloadOf<K>);

describe('mapping service', () => {
  let nats: TestNats;
  let store: EventStore<DomainEvent>;
  let svc: ServiceProcess;
  const rejections = new Map<string, EventOf<'VmPlaced'>>();

  before(async () => {
    nats = await startTestNats(vnetTopology());
    store = await nats.connect(domainEventCodec, 'mapping-test');
    svc = await startService('mapping', nats.url);
    await append(
      store,
      hostRegistered('h1', 1),
      hostRegistered('h2', 2),
      hostRegistered('h3', 3),
      hostRegistered('h4', 4),
      networkCreated('net-a', 1001, '10.0.0.0/24'),
      networkCreated('net-b', 1002, '10.0.0.0/24'),
      newEvent('HostDrained', { hostId: mustDecode(HostId, 'h2') }),
      newEvent('HostRemoved', { hostId: mustDecode(HostId, 'h3') }),
    );
  });
  after(async () => {
    await svc?.stop();
    await nats?.stop();
  });

  it('maps an accepted placement on its VNI and attaches it to its host, caused by the placement', async () => {
    const correlation = randomUUID();
    const placed = vmPlaced('web-1', 'h1', '10.0.0.5', 'net-a', 1001, correlation);
    await append(store, placed, vmPlaced('db-1', 'h1', '10.0.0.5', 'net-b', 1002));
    await until(() => outputsOf(store, placed), 'decision for web-1');
    const vni = await readStream(store, 'vni.1001');
    assert.deepEqual(payloads(vni, 'VmMappingAdded'), [
      { vni: 1001, ip: '10.0.0.5', vmId: 'web-1', hostId: 'h1', underlay: '127.0.1.1:6081' },
    ]);
    const added = vni.find((e) => e.type === 'VmMappingAdded')!;
    assert.deepEqual([added.causationId, added.correlationId], [placed.id, correlation]);
    await until(async () => ((await readStream(store, 'hostvms.h1')).length === 2 ? true : undefined), 'two VMs on h1');
    const onHost = await readStream(store, 'hostvms.h1');
    assert.deepEqual(payloads(onHost, 'HostVmAttached'), [
      { hostId: 'h1', vmId: 'web-1', vni: 1001, ip: '10.0.0.5' },
      { hostId: 'h1', vmId: 'db-1', vni: 1002, ip: '10.0.0.5' },
    ]);
    assert.deepEqual((await readStream(store, 'vni.1002')).map((e) => e.type), ['VmMappingAdded']);
  });

  it('rejects what cannot be, each with its reason, on the VM\'s stream', async () => {
    const cases: Array<[PayloadOf<'VmPlacementRejected'>['reason'], EventOf<'VmPlaced'>]> = [
      ['unknown-network', vmPlaced('r-net', 'h1', '10.0.0.20', 'net-x', 1001)],
      ['vni-mismatch', vmPlaced('r-vni', 'h1', '10.0.0.21', 'net-a', 1002)],
      ['ip-outside-cidr', vmPlaced('r-cidr', 'h1', '10.0.1.22', 'net-a', 1001)],
      ['unknown-host', vmPlaced('r-host', 'h9', '10.0.0.23', 'net-a', 1001)],
      ['host-drained', vmPlaced('r-drained', 'h2', '10.0.0.24', 'net-a', 1001)],
      ['host-removed', vmPlaced('r-removed', 'h3', '10.0.0.25', 'net-a', 1001)],
      ['ip-in-use', vmPlaced('r-ip', 'h4', '10.0.0.5', 'net-a', 1001)],
      ['vm-already-placed', vmPlaced('web-1', 'h4', '10.0.0.26', 'net-a', 1001)],
    ];
    for (const [reason, ev] of cases) rejections.set(reason, ev);
    await append(store, ...cases.map(([, ev]) => ev));
    await until(() => outputsOf(store, cases.at(-1)![1]), 'the last decision');
    for (const [reason, ev] of cases) {
      const onVm = (await readStream(store, `vm.${ev.payload.vmId}`)).filter((e) => e.causationId === ev.id);
      assert.equal(onVm.length, 1, `one answer to ${reason}`);
      const [r] = onVm;
      assert.equal(r!.type, 'VmPlacementRejected');
      assert.deepEqual({ ...r!.payload, detail: undefined }, { ...ev.payload, reason, detail: undefined });
      assert.ok((r!.payload as PayloadOf<'VmPlacementRejected'>).detail.length > 0);
    }
    // A rejection maps nothing.
    const mapped = (await readStream(store, 'vni.1001')).filter((e) => e.type === 'VmMappingAdded').map((e) => e.payload.vmId);
    assert.deepEqual(mapped, ['web-1']);
  });

  it('a deleted VM is unmapped and detached; a removed host loses every VM; a drained host keeps its own', async () => {
    const drained = [vmPlaced('keep-1', 'h4', '10.0.0.40', 'net-a', 1001), vmPlaced('gone-1', 'h4', '10.0.0.41', 'net-a', 1001), vmPlaced('gone-2', 'h4', '10.0.0.42', 'net-b', 1002)];
    const deleted = vmDeleted('web-1');
    const removeH4 = newEvent('HostRemoved', { hostId: mustDecode(HostId, 'h4') });
    await append(store, ...drained, newEvent('HostDrained', { hostId: mustDecode(HostId, 'h1') }), deleted, removeH4);
    await until(() => outputsOf(store, removeH4), 'removal of h4');
    const vni = await readStream(store, 'vni.1001');
    assert.deepEqual(payloads(vni, 'VmMappingRemoved'), [
      { vni: 1001, ip: '10.0.0.5', vmId: 'web-1', hostId: 'h1', reason: 'vm-deleted' },
      { vni: 1001, ip: '10.0.0.41', vmId: 'gone-1', hostId: 'h4', reason: 'host-removed' },
      { vni: 1001, ip: '10.0.0.40', vmId: 'keep-1', hostId: 'h4', reason: 'host-removed' },
    ]);
    assert.deepEqual(payloads(await readStream(store, 'vni.1002'), 'VmMappingRemoved'), [
      { vni: 1002, ip: '10.0.0.42', vmId: 'gone-2', hostId: 'h4', reason: 'host-removed' },
    ]);
    assert.deepEqual(payloads(await readStream(store, 'hostvms.h1'), 'HostVmDetached'), [{ hostId: 'h1', vmId: 'web-1', vni: 1001, ip: '10.0.0.5' }]);
    assert.deepEqual(payloads(await readStream(store, 'hostvms.h4'), 'HostVmDetached').map((p) => p.vmId), ['gone-1', 'gone-2', 'keep-1']);
    // h1 is drained but db-1 still runs there: no removal for it.
    assert.ok(!(await readStream(store, 'vni.1002')).some((e) => e.type === 'VmMappingRemoved' && e.payload.vmId === 'db-1'));
  });

  it('reports placements by outcome and the live mappings in /metrics', async () => {
    const text = await (await fetch(`${svc.health}/metrics`)).text();
    assert.match(text, /vnet_mapping_placements_accepted_total\{[^}]*\} 5/);
    for (const reason of rejections.keys()) assert.match(text, new RegExp(`vnet_mapping_placements_rejected_total\\{[^}]*reason="${reason}"[^}]*\\} 1`));
    assert.match(text, /vnet_mapping_mappings\{[^}]*\} 1\b/); // db-1
    assert.ok((await fetch(`${svc.health}/healthz`)).ok);
  });
});

describe('mapping service killed mid-stream', () => {
  let nats: TestNats;
  let store: EventStore<DomainEvent>;
  const procs: ServiceProcess[] = [];

  before(async () => {
    nats = await startTestNats(vnetTopology());
    store = await nats.connect(domainEventCodec, 'mapping-crash-test');
  });
  after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await nats?.stop();
  });

  /** Every decision the log's inputs call for, by the pure decider: the oracle. */
  async function expectedOutputIds(): Promise<Set<string>> {
    let s = initialState();
    const ids = new Set<string>();
    for await (const ev of theLog(store)) {
      if (!isInput(ev)) continue;
      const d = decide(s, ev);
      s = applyDecision(s, ev, d);
      for (const o of materialize(ev, d, new Date())) ids.add(o.id);
    }
    return ids;
  }
  async function outputCounts(): Promise<Map<string, number>> {
    const seen = new Map<string, number>();
    for await (const ev of theLog(store)) {
      if (!isOutput(ev)) continue;
      const key = `${ev.causationId}/${ev.type}/${ev.payload.vmId}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      seen.set(ev.id, (seen.get(ev.id) ?? 0) + 1);
    }
    return seen;
  }
  const added = () => store.count('VNET_EVENTS', 'vnet.evt.vni.>');

  it('decides every input once across a SIGKILL and a restart, and rebuilds its state past an undecodable record', async () => {
    const hosts = ['h1', 'h2', 'h3', 'h4'];
    await append(store, ...hosts.map((h, i) => hostRegistered(h, i + 1)), networkCreated('net-a', 2001, '10.1.0.0/16'));
    const n = 1500;
    // Every 10th VM asks for the previous VM's address: a rejection (ip-in-use) among the mappings.
    const ipOf = (i: number) => intToIpv4(ipv4ToInt('10.1.0.10') + (i % 10 === 9 ? i - 1 : i));
    const inputs = Array.from({ length: n }, (_, i) => vmPlaced(`vm-${i}`, hosts[i % 4]!, ipOf(i), 'net-a', 2001));
    const first = await startService('mapping', nats.url);
    procs.push(first);
    const feeding = (async () => {
      for (let i = 0; i < n; i += 50) {
        const rs = await Promise.all(inputs.slice(i, i + 50).map((ev) => store.appendToStream(streamNameOf(ev), [ev])));
        assert.ok(rs.every(E.isRight));
      }
    })();
    await until(async () => ((await added()) >= 200 ? true : undefined), 'some mappings written', 30_000);
    await first.stop('SIGKILL');
    const atKill = await added();
    await feeding;
    // A record no build can decode sits in the log: the restart skips it (and the subscription dead-letters it).
    assert.ok(E.isRight(await store.publishRaw('vnet.evt.junk.j1', new TextEncoder().encode('not an event'))));
    const second = await startService('mapping', nats.url);
    procs.push(second);
    const accepted = n - n / 10;
    await until(async () => ((await added()) >= accepted ? true : undefined), 'every mapping written', 60_000);
    // After the restart, the state holds what was decided before the kill.
    const late = [vmPlaced('late-1', 'h1', ipOf(0), 'net-a', 2001), vmDeleted('vm-1')];
    await append(store, ...late);
    await until(() => outputsOf(store, late[1]!), 'decision after the restart');
    await new Promise((r) => setTimeout(r, 300));

    assert.ok(atKill < accepted, `the kill happened mid-stream (${atKill} of ${accepted} mappings written)`);
    const expected = await expectedOutputIds();
    const counts = await outputCounts();
    const stored = [...counts].filter(([k]) => !k.includes('/'));
    assert.deepEqual(new Set(stored.map(([id]) => id)), expected, 'the log holds exactly the decisions the inputs call for');
    assert.ok([...counts.values()].every((c) => c === 1), 'no decision stored twice');
    const rejected = (await outputsOf(store, late[0]!))!;
    assert.deepEqual(rejected.map((e) => [e.type, (e.payload as PayloadOf<'VmPlacementRejected'>).reason]), [['VmPlacementRejected', 'ip-in-use']]);
    assert.deepEqual((await outputsOf(store, late[1]!))!.map((e) => e.type), ['VmMappingRemoved', 'HostVmDetached']);
  });
});
