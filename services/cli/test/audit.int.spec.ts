/**
 * `vnet audit pair` against a real nats-server holding a pair's history: the lines an
 * operator reads, the JSON a script reads, never the sealed token, and clear refusals.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import {
  domainEventCodec,
  HostId,
  Ipv4,
  ipv4ToInt,
  mustDecode,
  NetworkId,
  newEvent,
  NonNegativeInt,
  pairIdOf,
  RuleId,
  SealedBox,
  streamNameOf,
  U32,
  UnderlayAddress,
  VmId,
  Vni,
  type DomainEvent,
} from '@vnet/events';
import type { EventStore } from '@vnet/eventstore';
import { startTestNats, type TestNats } from '@vnet/eventstore/testing';
import { generateHostKeyPair, seal } from '@vnet/tokens';
import { vnetTopology } from '@vnet/topology';

const ROOT = join(import.meta.dirname, '../../..');
const VNET = join(ROOT, 'services/cli/bin/vnet.js');
const VNI = mustDecode(Vni, 1001);
const pairId = pairIdOf(1001, ipv4ToInt('10.0.0.5'), ipv4ToInt('10.0.0.6'));
const common = { pairId, hostId: mustDecode(HostId, 'h1'), vni: VNI, srcIp: mustDecode(Ipv4, '10.0.0.5'), dstIp: mustDecode(Ipv4, '10.0.0.6') };
const sealedToken = mustDecode(SealedBox, seal(Buffer.alloc(16, 7), generateHostKeyPair().publicKey, 'x'));

describe('vnet audit pair', () => {
  let nats: TestNats;
  let store: EventStore<DomainEvent>;
  const vnet = (...args: string[]) => {
    const r = spawnSync(process.execPath, [VNET, 'audit', 'pair', ...args, '--nats', nats.url], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  before(async () => {
    nats = await startTestNats(vnetTopology());
    store = await nats.connect(domainEventCodec, 'audit-test');
    const placed = (vm: string, ip: string, vni = VNI) =>
      newEvent('VmPlaced', { vmId: mustDecode(VmId, vm), networkId: mustDecode(NetworkId, 'web'), vni, ip: mustDecode(Ipv4, ip), hostId: mustDecode(HostId, 'h1') });
    const events: DomainEvent[] = [
      placed('web-1', '10.0.0.5'),
      placed('web-2', '10.0.0.6'),
      placed('other', '10.0.0.7', mustDecode(Vni, 2002)),
      newEvent('PairRequested', { ...common, srcVmId: mustDecode(VmId, 'web-1') }),
      newEvent('PairAuthorized', {
        ...common,
        srcVmId: mustDecode(VmId, 'web-1'),
        dstVmId: mustDecode(VmId, 'web-2'),
        dstHostId: mustDecode(HostId, 'h2'),
        dstUnderlay: mustDecode(UnderlayAddress, '127.0.1.2:6081'),
        ruleId: null,
        policyVersion: mustDecode(NonNegativeInt, 0),
      }),
      newEvent('PairTokenIssued', {
        ...common,
        dstHostId: mustDecode(HostId, 'h2'),
        dstUnderlay: mustDecode(UnderlayAddress, '127.0.1.2:6081'),
        keyId: mustDecode(U32, 1),
        expiry: mustDecode(U32, 1_900_000_000),
        sealedToken,
      }),
      newEvent('PairRevoked', { ...common, reason: 'policy', ruleId: mustDecode(RuleId, 'no-web-2'), policyVersion: mustDecode(NonNegativeInt, 1) }),
    ];
    for (const ev of events) assert.ok(E.isRight(await store.appendToStream(streamNameOf(ev), [ev])));
  });
  after(async () => {
    await store?.close();
    await nats?.stop();
  });

  it('prints the history in order, by VM ids or by addresses, never the sealed token', () => {
    for (const args of [['web-1', 'web-2'], ['10.0.0.5', '10.0.0.6', '--vni', '1001']]) {
      const r = vnet(...args);
      assert.equal(r.code, 0, r.err);
      const lines = r.out.trim().split('\n');
      assert.equal(lines[0], `pair ${pairId}: VNI 1001, 10.0.0.5 -> 10.0.0.6`);
      assert.match(lines[1]!, /requested\s+by host h1 for VM web-1$/);
      assert.match(lines[2]!, /authorised\s+rule default \(same network\), policy v0; destination web-2 on h2 at 127\.0\.1\.2:6081$/);
      assert.match(lines[3]!, /token\s+key id 1, expires 2030-03-17T17:46:40\.000Z, valid at 127\.0\.1\.2:6081$/);
      assert.match(lines[4]!, /revoked\s+policy, rule no-web-2, policy v1$/);
      assert.equal(lines.length, 5);
      for (const secret of [sealedToken.box, sealedToken.nonce, sealedToken.epk]) assert.ok(!r.out.includes(secret));
    }
  });

  it('--json gives one object per event, without the sealed token', () => {
    const r = vnet('web-1', 'web-2', '--json');
    assert.equal(r.code, 0, r.err);
    const rows = r.out.trim().split('\n').map((l) => JSON.parse(l) as { type: string; payload: Record<string, unknown> });
    assert.deepEqual(rows.map((x) => x.type), ['PairRequested', 'PairAuthorized', 'PairTokenIssued', 'PairRevoked']);
    assert.equal(rows[2]!.payload.sealedToken, undefined);
    assert.equal(rows[2]!.payload.keyId, 1);
  });

  it('says plainly what is wrong with the question', () => {
    const unknown = vnet('web-1', 'nobody');
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /no VM "nobody" was ever placed/);
    const apart = vnet('web-1', 'other');
    assert.match(apart.err, /web-1 is in VNI 1001 and other in VNI 2002: a pair lies within one VNI/);
    assert.match(vnet('web-1', 'web-2', '--vni', '1001').err, /give virtual IPv4 addresses/);
    const none = vnet('10.0.0.6', '10.0.0.5', '--vni', '1001');
    assert.equal(none.code, 0);
    assert.match(none.out, /no history: this pair was never requested/);
  });
});
