/**
 * The authorization process against a real nats-server: mappings and pair requests appended
 * straight to the log, decisions read back from `hostpairs.<host>.<pair>`; a policy change
 * revokes a live pair within a second; a SIGKILL and a restart write no decision twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import {
  Cidr,
  domainEventCodec,
  HostId,
  Ipv4,
  ipv4ToInt,
  mustDecode,
  NetworkId,
  newEvent,
  pairIdOf,
  ProjectId,
  RuleId,
  streamNameOf,
  UnderlayAddress,
  VmId,
  Vni,
  type DomainEvent,
} from '@vnet/events';
import type { EventStore } from '@vnet/eventstore';
import { startService, startTestNats, until, type ServiceProcess, type TestNats } from '@vnet/eventstore/testing';
import { vnetTopology } from '@vnet/topology';

const VNI = 4100;
const mapped = (vm: string, ip: string, host: string) =>
  newEvent('VmMappingAdded', {
    vni: mustDecode(Vni, VNI),
    ip: mustDecode(Ipv4, ip),
    vmId: mustDecode(VmId, vm),
    hostId: mustDecode(HostId, host),
    underlay: mustDecode(UnderlayAddress, `127.0.1.${host.slice(1)}:6081`),
  });
const request = (vm: string, src: string, dst: string, host: string) =>
  newEvent('PairRequested', {
    pairId: pairIdOf(VNI, ipv4ToInt(src), ipv4ToInt(dst)),
    hostId: mustDecode(HostId, host),
    vni: mustDecode(Vni, VNI),
    srcVmId: mustDecode(VmId, vm),
    srcIp: mustDecode(Ipv4, src),
    dstIp: mustDecode(Ipv4, dst),
  });
const pairStream = (host: string, src: string, dst: string) => `hostpairs.${host}.${pairIdOf(VNI, ipv4ToInt(src), ipv4ToInt(dst))}`;

async function append(store: EventStore<DomainEvent>, ...events: DomainEvent[]): Promise<void> {
  for (const ev of events) assert.ok(E.isRight(await store.appendToStream(streamNameOf(ev), [ev])), `appended ${ev.type}`);
}
async function types(store: EventStore<DomainEvent>, stream: string): Promise<string[]> {
  const out: string[] = [];
  for await (const r of store.readStream(stream)) out.push(r.event.type);
  return out;
}

describe('authorization service', () => {
  let nats: TestNats;
  let store: EventStore<DomainEvent>;
  let svc: ServiceProcess;

  before(async () => {
    nats = await startTestNats(vnetTopology());
    store = await nats.connect(domainEventCodec, 'authorization-test');
    await append(
      store,
      newEvent('NetworkCreated', { networkId: mustDecode(NetworkId, 'web'), projectId: mustDecode(ProjectId, 'p1'), vni: mustDecode(Vni, VNI), cidr: mustDecode(Cidr, '10.9.0.0/24') }),
      mapped('a', '10.9.0.1', 'h1'),
      mapped('b', '10.9.0.2', 'h2'),
      mapped('c', '10.9.0.3', 'h2'),
    );
    svc = await startService('authorization', nats.url);
  });
  after(async () => {
    await svc?.stop();
    await store?.close();
    await nats?.stop();
  });

  it('authorises a same-network pair, denies an unknown destination, on the source host\'s subject', async () => {
    await append(store, request('a', '10.9.0.1', '10.9.0.2', 'h1'), request('a', '10.9.0.1', '10.9.0.77', 'h1'));
    const ab = await until(async () => ((await types(store, pairStream('h1', '10.9.0.1', '10.9.0.2'))).length === 2 ? true : undefined), 'a→b decided');
    assert.ok(ab);
    assert.deepEqual(await types(store, pairStream('h1', '10.9.0.1', '10.9.0.2')), ['PairRequested', 'PairAuthorized']);
    await until(async () => ((await types(store, pairStream('h1', '10.9.0.1', '10.9.0.77'))).length === 2 ? true : undefined), 'a→? decided');
    assert.deepEqual(await types(store, pairStream('h1', '10.9.0.1', '10.9.0.77')), ['PairRequested', 'PairDenied']);
  });

  it('revokes the live pair within a second of a policy change that denies it', async () => {
    const t0 = Date.now();
    await append(store, newEvent('PolicyRuleSet', { ruleId: mustDecode(RuleId, 'no-b'), action: 'deny', from: { any: true }, to: { vm: mustDecode(VmId, 'b') } }));
    await until(async () => ((await types(store, pairStream('h1', '10.9.0.1', '10.9.0.2'))).includes('PairRevoked') ? true : undefined), 'a→b revoked', 5000);
    assert.ok(Date.now() - t0 < 1000, `revoked after ${Date.now() - t0} ms`);
    const last: DomainEvent[] = [];
    for await (const r of store.readStream(pairStream('h1', '10.9.0.1', '10.9.0.2'))) last.push(r.event);
    const revoked = last.at(-1)!;
    assert.equal(revoked.type, 'PairRevoked');
    if (revoked.type === 'PairRevoked') {
      assert.equal(revoked.payload.ruleId, 'no-b');
      assert.equal(revoked.payload.policyVersion, 1);
    }
  });

  it('after a SIGKILL and a restart, decides what came meanwhile and writes nothing twice', async () => {
    await svc.stop('SIGKILL');
    await append(store, request('a', '10.9.0.1', '10.9.0.3', 'h1'));
    svc = await startService('authorization', nats.url);
    await until(async () => ((await types(store, pairStream('h1', '10.9.0.1', '10.9.0.3'))).length === 2 ? true : undefined), 'a→c decided after restart');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await types(store, pairStream('h1', '10.9.0.1', '10.9.0.3')), ['PairRequested', 'PairAuthorized']);
    assert.deepEqual(await types(store, pairStream('h1', '10.9.0.1', '10.9.0.2')), ['PairRequested', 'PairAuthorized', 'PairRevoked']);
    assert.deepEqual(await types(store, pairStream('h1', '10.9.0.1', '10.9.0.77')), ['PairRequested', 'PairDenied']);
  });
});
