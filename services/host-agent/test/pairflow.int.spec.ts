/**
 * The agent's side of the pair flow against a real log: a request becomes one PairRequested
 * on the host's pair subject; tokens sealed to this host are opened and installed, others
 * refused; denials and revocations reach the data plane; refused frames become sampled
 * TokenRejected events (one per reason and pair and interval, with the packet count, and a
 * cap per interval). The data plane here records what it is told (its own behaviour is
 * tested over loopback in tokens-dataplane and agents-e2e).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { domainEventCodec, ipv4ToInt, pairIdOf, streamNameOf, type DomainEvent } from '@vnet/events';
import { eventFrom } from '@vnet/events/testing';
import type { EventStore } from '@vnet/eventstore';
import { startTestNats, until, type TestNats } from '@vnet/eventstore/testing';
import { generateHostKeyPair, seal, tokenContext } from '@vnet/tokens';
import { vnetTopology } from '@vnet/topology';
import type { DataPlane, PairRoute } from '../src/adapters/dataplane-types';
import { startPairFlow, type PairFlow } from '../src/adapters/pairflow';

let nats: TestNats;
let store: EventStore<DomainEvent>;
const h1 = generateHostKeyPair();
const h2 = generateHostKeyPair();
const VNI = 77;
const A = '10.77.0.1';
const B = '10.77.0.2';
const PAIR = pairIdOf(VNI, ipv4ToInt(A), ipv4ToInt(B));

/** What the data plane was told. */
const told: string[] = [];
const routes: PairRoute[] = [];
const plane = {
  setPair: (vni: number, src: number, dst: number, r: PairRoute | undefined) => {
    told.push(`${r ? 'set' : 'remove'} ${vni}/${src}/${dst}`);
    if (r) routes.push(r);
  },
  pairDenied: (vni: number, src: number, dst: number) => told.push(`denied ${vni}/${src}/${dst}`),
  voidTokens: (vni: number, src: number, dst: number, upTo: number) => voided.push(`${vni}/${src}/${dst}<=${upTo}`),
} as unknown as DataPlane;
const voided: string[] = [];

const event = (type: string, payload: Record<string, unknown>, cause?: DomainEvent): DomainEvent => eventFrom(type, payload, cause ? { cause } : {});
const base = { pairId: PAIR, hostId: 'h1', vni: VNI, srcIp: A, dstIp: B };
function tokenIssued(token: Buffer, keyId: number, expiry: number, sealTo = h1.publicKey, cause?: DomainEvent): DomainEvent {
  return event('PairTokenIssued', {
    ...base,
    dstHostId: 'h2',
    dstUnderlay: '127.0.1.2:6081',
    keyId,
    expiry,
    sealedToken: seal(token, sealTo, tokenContext(PAIR, keyId, expiry, '127.0.1.2:6081')),
  }, cause);
}
const authorizedEv = () =>
  event('PairAuthorized', { ...base, srcVmId: 'vm-a', dstVmId: 'vm-b', dstHostId: 'h2', dstUnderlay: '127.0.1.2:6081', ruleId: null, policyVersion: 4 });
async function append(...events: DomainEvent[]) {
  for (const e of events) assert.ok(E.isRight(await store.appendToStream(streamNameOf(e), [e])));
}
async function read(filter: string): Promise<DomainEvent[]> {
  const out: DomainEvent[] = [];
  for await (const r of store.readAll({ filter })) out.push(r.event);
  return out;
}

let flow: PairFlow;
const errors: string[] = [];
before(async () => {
  nats = await startTestNats(vnetTopology());
  store = await nats.connect(domainEventCodec, 'pairflow-test');
  flow = await startPairFlow({ store, hostId: 'h1', keys: h1, plane: () => plane, reportEveryMs: 60_000, maxReportsPerInterval: 2, onError: (e) => errors.push(e.message) });
});
after(async () => {
  await flow?.stop();
  await nats?.stop();
});

describe('pair flow (agent side)', () => {
  it('publishes one PairRequested on the host pair subject', async () => {
    flow.request({ vni: VNI, srcVmId: 'vm-a', src: ipv4ToInt(A), dst: ipv4ToInt(B), renewal: false });
    const evs = await until(async () => {
      const e = await read(`vnet.evt.hostpairs.h1.${PAIR}`);
      return e.length > 0 ? e : undefined;
    }, 'the request in the log', 5000);
    assert.equal(evs.length, 1);
    assert.equal(evs[0]!.type, 'PairRequested');
    assert.deepEqual(evs[0]!.payload, { pairId: PAIR, hostId: 'h1', vni: VNI, srcVmId: 'vm-a', srcIp: A, dstIp: B });
  });

  it('installs a token sealed to this host, refuses one sealed to another, applies denials and revocations', async () => {
    const token = randomBytes(16);
    const expiry = Math.floor(Date.now() / 1000) + 300;
    await append(tokenIssued(randomBytes(16), 1, expiry, h2.publicKey), tokenIssued(token, 1, expiry));
    await until(async () => (routes.length === 1 ? true : undefined), 'the token installed', 5000);
    assert.deepEqual(routes[0], { dstUnderlay: '127.0.1.2:6081', keyId: 1, expiry, token });
    assert.equal(flow.stats().refusedTokens, 1);
    assert.match(errors.join('\n'), new RegExp(`token for pair ${PAIR} at position \\d+ does not open with this host key: not installed`));
    const common = { ...base, ruleId: 'deny-it', policyVersion: 3 };
    await append(event('PairRevoked', { ...common, reason: 'policy' }), event('PairDenied', { ...common, reason: 'policy', detail: 'rule deny-it' }));
    await until(async () => (told.length === 3 ? true : undefined), 'revocation and denial applied', 5000);
    const k = `${VNI}/${ipv4ToInt(A)}/${ipv4ToInt(B)}`;
    assert.deepEqual(told, [`set ${k}`, `remove ${k}`, `denied ${k}`]);
    assert.deepEqual(
      { tokens: flow.stats().tokens, revocations: flow.stats().revocations, denials: flow.stats().denials },
      { tokens: 1, revocations: 1, denials: 1 },
    );
  });

  it('does not install a token made for an authorisation withdrawn since; a later authorisation\'s token is installed', async () => {
    const expiry = Math.floor(Date.now() / 1000) + 300;
    const before = routes.length;
    const stale = authorizedEv();
    await append(
      stale,
      event('PairRevoked', { ...base, reason: 'policy', ruleId: 'deny-it', policyVersion: 5 }),
      tokenIssued(randomBytes(16), 1, expiry, h1.publicKey, stale),
    );
    const fresh = authorizedEv();
    const good = randomBytes(16);
    await append(fresh, tokenIssued(good, 1, expiry + 1, h1.publicKey, fresh));
    await until(async () => (routes.length > before ? true : undefined), 'the fresh token installed', 5000);
    assert.equal(routes.length, before + 1, 'only the fresh token');
    assert.deepEqual(routes.at(-1)!.token, good);
    assert.equal(flow.stats().staleTokens, 1);
  });

  it('voids at this (destination) host the tokens of a pair revoked elsewhere', async () => {
    const upTo = Math.floor(Date.now() / 1000) + 120;
    await append(event('PairTokensVoided', { pairId: PAIR, hostId: 'h1', vni: VNI, srcIp: A, dstIp: B, voidUpTo: upTo }));
    await until(async () => (voided.length > 0 ? true : undefined), 'the void applied', 5000);
    assert.deepEqual(voided, [`${VNI}/${ipv4ToInt(A)}/${ipv4ToInt(B)}<=${upTo}`]);
    assert.equal(flow.stats().voids, 1);
  });

  it('reports refused frames as sampled TokenRejected events, capped per interval', async () => {
    const [a, b, c] = [A, B, '10.77.0.3'].map(ipv4ToInt) as [number, number, number];
    for (let i = 0; i < 5; i++) flow.rejected('forged', VNI, a, b, 1);
    flow.rejected('expired', VNI, a, b, 1);
    flow.rejected('forged', VNI, c, b, 2); // a third (reason, pair): over the cap of 2
    await flow.flushReports();
    const evs = await read('vnet.evt.hostrejects.h1');
    assert.deepEqual(
      evs.map((e) => e.payload),
      [
        { hostId: 'h1', reason: 'forged', vni: VNI, srcIp: A, dstIp: B, keyId: 1, packets: 5 },
        { hostId: 'h1', reason: 'expired', vni: VNI, srcIp: A, dstIp: B, keyId: 1, packets: 1 },
      ],
    );
    assert.equal(flow.stats().unreported, 1);
    assert.equal(flow.stats().reports, 2);
    await flow.flushReports();
    assert.equal((await read('vnet.evt.hostrejects.h1')).length, 2, 'nothing pending: nothing written');
  });

  it('with the issuer key pinned, installs only tokens the issuer sealed', async () => {
    const issuer = generateHostKeyPair();
    const h3 = generateHostKeyPair();
    const got: PairRoute[] = [];
    const plane3 = { setPair: (_v: number, _s: number, _d: number, r: PairRoute | undefined) => r && got.push(r), pairDenied: () => undefined } as unknown as DataPlane;
    const errs: string[] = [];
    const pinned = await startPairFlow({ store, hostId: 'h3', keys: h3, issuerPublicKey: issuer.publicKey, plane: () => plane3, onError: (e) => errs.push(e.message) });
    try {
      const expiry = Math.floor(Date.now() / 1000) + 300;
      const ctx = tokenContext(PAIR, 1, expiry, '127.0.1.2:6081');
      const issued = (token: Buffer, from?: ReturnType<typeof generateHostKeyPair>) =>
        event('PairTokenIssued', { ...base, hostId: 'h3', dstHostId: 'h2', dstUnderlay: '127.0.1.2:6081', keyId: 1, expiry, sealedToken: seal(token, h3.publicKey, ctx, from) });
      const good = randomBytes(16);
      await append(issued(randomBytes(16)), issued(randomBytes(16), generateHostKeyPair()), issued(good, issuer));
      await until(async () => (got.length > 0 ? true : undefined), 'the issuer-sealed token installed', 5000);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(got.length, 1);
      assert.deepEqual(got[0]!.token, good);
      assert.equal(pinned.stats().refusedTokens, 2);
      assert.equal(errs.filter((m) => /was not sealed by the token issuer/.test(m)).length, 2);
    } finally {
      await pinned.stop();
    }
  });
});
