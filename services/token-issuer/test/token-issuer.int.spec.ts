/**
 * The token issuer against a real nats-server: a VM key per placed VM, sealed so that only
 * its host opens it; a token per authorised pair, sealed to the source host, that checks
 * against the destination VM's key; no key or token in plaintext anywhere in the log; and
 * after a SIGKILL the issuer keeps using the keys the hosts already have.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import {
  causedBy,
  DatacenterId,
  decodeEvent,
  domainEventCodec,
  HostId,
  Ipv4,
  ipv4ToInt,
  mustDecode,
  NonNegativeInt,
  newEvent,
  pairIdOf,
  PublicKey,
  RegionId,
  streamNameOf,
  UnderlayAddress,
  VmId,
  Vni,
  type DomainEvent,
  type EventOf,
} from '@vnet/events';
import { ALL_EVENTS, LOG_STREAM, type EventStore } from '@vnet/eventstore';
import { startService, startTestNats, until, type ServiceProcess, type TestNats } from '@vnet/eventstore/testing';
import { derivedEventId } from '@vnet/runner';
import { generateHostKeyPair, keyContext, openSealed, openSealedKey, sealKey, tokenContext, tokenMatches, type HostKeyPair } from '@vnet/tokens';
import { vnetTopology } from '@vnet/topology';

const VNI = 4200;
const LIFETIME = 120;
const hosts: Record<string, HostKeyPair> = { h1: generateHostKeyPair(), h2: generateHostKeyPair() };
const underlay = (h: string) => mustDecode(UnderlayAddress, `127.0.1.${h.slice(1)}:6081`);
const registered = (h: string) =>
  newEvent('HostRegistered', {
    hostId: mustDecode(HostId, h),
    regionId: mustDecode(RegionId, 'r1'),
    datacenterId: mustDecode(DatacenterId, 'dc1'),
    underlay: underlay(h),
    publicKey: mustDecode(PublicKey, hosts[h]!.publicKey),
  });
const mapped = (vm: string, ip: string, h: string) =>
  newEvent('VmMappingAdded', { vni: mustDecode(Vni, VNI), ip: mustDecode(Ipv4, ip), vmId: mustDecode(VmId, vm), hostId: mustDecode(HostId, h), underlay: underlay(h) });
const authorized = (src: [string, string, string], dst: [string, string, string]) =>
  newEvent('PairAuthorized', {
    pairId: pairIdOf(VNI, ipv4ToInt(src[1]), ipv4ToInt(dst[1])),
    hostId: mustDecode(HostId, src[2]),
    vni: mustDecode(Vni, VNI),
    srcVmId: mustDecode(VmId, src[0]),
    srcIp: mustDecode(Ipv4, src[1]),
    dstIp: mustDecode(Ipv4, dst[1]),
    dstVmId: mustDecode(VmId, dst[0]),
    dstHostId: mustDecode(HostId, dst[2]),
    dstUnderlay: underlay(dst[2]),
    ruleId: null,
    policyVersion: mustDecode(NonNegativeInt, 0),
  });
const A: [string, string, string] = ['a', '10.9.1.1', 'h1'];
const B: [string, string, string] = ['b', '10.9.1.2', 'h2'];

async function append(store: EventStore<DomainEvent>, ...events: DomainEvent[]): Promise<void> {
  for (const ev of events) assert.ok(E.isRight(await store.appendToStream(streamNameOf(ev), [ev])), `appended ${ev.type}`);
}
async function eventsOf<K extends DomainEvent['type']>(store: EventStore<DomainEvent>, stream: string, type: K): Promise<Array<EventOf<K>>> {
  const out: Array<EventOf<K>> = [];
  for await (const r of store.readStream(stream)) if (r.event.type === type) out.push(r.event as EventOf<K>);
  return out;
}
const one = async <K extends DomainEvent['type']>(store: EventStore<DomainEvent>, stream: string, type: K, what: string) =>
  until(async () => (await eventsOf(store, stream, type))[0], what);

/** The VM's key, as its host opens it from the log. */
async function hostOpensKey(store: EventStore<DomainEvent>, vm: string, h: string): Promise<Buffer> {
  const ev = (await eventsOf(store, `hostkeys.${h}`, 'VmKeyIssued')).find((e) => e.payload.vmId === vm);
  assert.ok(ev, `VmKeyIssued for ${vm} on hostkeys.${h}`);
  return openSealedKey(ev.payload.sealedForHost, hosts[h]!.privateKey, keyContext(vm, h, ev.payload.keyId));
}

describe('token issuer', () => {
  let nats: TestNats;
  let store: EventStore<DomainEvent>;
  let svc: ServiceProcess;
  let dir: string;
  const secrets: Buffer[] = [];
  const env = () => ({ VNET_ISSUER_KEY_FILE: join(dir, 'issuer.json'), VNET_TOKEN_LIFETIME_S: String(LIFETIME) });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vnet-issuer-'));
    nats = await startTestNats(vnetTopology());
    store = await nats.connect(domainEventCodec, 'token-issuer-test');
    await append(store, registered('h1'), registered('h2'), mapped(...A), mapped(...B));
    svc = await startService('token-issuer', nats.url, { env: env() });
  });
  after(async () => {
    await svc?.stop();
    await store?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('issues each placed VM a key that only its host opens', async () => {
    for (const [vm, , h] of [A, B]) {
      const ev = await one(store, `hostkeys.${h}`, 'VmKeyIssued', `key of ${vm}`);
      assert.equal(ev.payload.vmId, vm);
      assert.equal(ev.payload.keyId, 1);
      const key = await hostOpensKey(store, vm, h);
      assert.equal(key.length, 32);
      secrets.push(key);
      const other = h === 'h1' ? 'h2' : 'h1';
      assert.throws(() => openSealedKey(ev.payload.sealedForHost, hosts[other]!.privateKey, keyContext(vm, h, 1)), /does not open/);
    }
  });

  it('makes a token per authorised pair, sealed to the source host, that checks with the destination VM key', async () => {
    const auth = authorized(A, B);
    await append(store, auth);
    const ev = await one(store, streamNameOf(auth), 'PairTokenIssued', 'token a→b');
    const p = ev.payload;
    assert.equal(p.expiry, Math.floor(Date.parse(auth.occurredAt) / 1000) + LIFETIME);
    assert.equal(p.dstUnderlay, '127.0.1.2:6081');
    const token = openSealed(p.sealedToken, hosts.h1!.privateKey, tokenContext(p.pairId, p.keyId, p.expiry, p.dstUnderlay), 16);
    secrets.push(token);
    const bKey = await hostOpensKey(store, 'b', 'h2');
    const fields = { vni: VNI, src: ipv4ToInt(A[1]), dst: ipv4ToInt(B[1]), dstUnderlay: p.dstUnderlay, keyId: p.keyId, expiry: p.expiry };
    assert.ok(tokenMatches(bKey, fields, token), 'the destination host accepts it');
    assert.ok(!tokenMatches(bKey, { ...fields, dstUnderlay: '127.0.1.9:6081' }, token), 'not at another host');
    assert.throws(() => openSealed(p.sealedToken, hosts.h2!.privateKey, tokenContext(p.pairId, p.keyId, p.expiry, p.dstUnderlay), 16), /does not open/);
  });

  it('after a SIGKILL and a restart, keeps the keys the hosts have and issues none twice', async () => {
    await svc.stop('SIGKILL');
    const back = authorized(B, A);
    await append(store, back);
    svc = await startService('token-issuer', nats.url, { env: env() });
    const ev = await one(store, streamNameOf(back), 'PairTokenIssued', 'token b→a after restart');
    const p = ev.payload;
    const token = openSealed(p.sealedToken, hosts.h2!.privateKey, tokenContext(p.pairId, p.keyId, p.expiry, p.dstUnderlay), 16);
    secrets.push(token);
    const aKey = await hostOpensKey(store, 'a', 'h1');
    assert.ok(tokenMatches(aKey, { vni: VNI, src: ipv4ToInt(B[1]), dst: ipv4ToInt(A[1]), dstUnderlay: p.dstUnderlay, keyId: p.keyId, expiry: p.expiry }, token));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await eventsOf(store, 'hostkeys.h1', 'VmKeyIssued')).length, 1);
    assert.equal((await eventsOf(store, 'hostkeys.h2', 'VmKeyIssued')).length, 1);
  });

  it('rotates a key on demand: key id + 1 for the VM\'s host; new tokens use it, the old key still checks old tokens', async () => {
    const oldKey = await hostOpensKey(store, 'b', 'h2');
    const rotate = newEvent('VmKeyRotationRequested', { vmId: mustDecode(VmId, 'b'), reason: 'test' });
    await append(store, rotate, newEvent('VmKeyRotationRequested', { vmId: mustDecode(VmId, 'nobody') }));
    const rotated = await until(async () => (await eventsOf(store, 'hostkeys.h2', 'VmKeyIssued')).find((e) => e.payload.keyId === 2), 'key 2 of b');
    assert.equal(rotated.payload.vmId, 'b');
    assert.equal(rotated.payload.reason, 'rotated');
    const newKey = openSealedKey(rotated.payload.sealedForHost, hosts.h2!.privateKey, keyContext('b', 'h2', 2));
    assert.ok(!newKey.equals(oldKey));
    secrets.push(newKey);
    const auth = authorized(A, B);
    await append(store, auth);
    const ev = await until(async () => (await eventsOf(store, streamNameOf(auth), 'PairTokenIssued')).find((e) => e.payload.keyId === 2), 'a token with key 2');
    const p = ev.payload;
    const token = openSealed(p.sealedToken, hosts.h1!.privateKey, tokenContext(p.pairId, p.keyId, p.expiry, p.dstUnderlay), 16);
    secrets.push(token);
    const fields = { vni: VNI, src: ipv4ToInt(A[1]), dst: ipv4ToInt(B[1]), dstUnderlay: p.dstUnderlay, keyId: 2, expiry: p.expiry };
    assert.ok(tokenMatches(newKey, fields, token), 'made with the new key');
    assert.ok(!tokenMatches(oldKey, fields, token), 'not with the old one');
    assert.equal((await eventsOf(store, 'hostkeys.h1', 'VmKeyIssued')).length, 1, 'a VM that is not placed gets nothing; a is untouched');
  });

  it('voids the tokens of a revoked pair at the destination host, up to the latest expiry it issued', async () => {
    const pairId = pairIdOf(VNI, ipv4ToInt(A[1]), ipv4ToInt(B[1]));
    const expiries = (await eventsOf(store, `hostpairs.h1.${pairId}`, 'PairTokenIssued')).map((e) => e.payload.expiry);
    assert.ok(expiries.length >= 2, 'two tokens a→b so far');
    const revoked = newEvent('PairRevoked', {
      pairId,
      hostId: mustDecode(HostId, 'h1'),
      vni: mustDecode(Vni, VNI),
      srcIp: mustDecode(Ipv4, A[1]),
      dstIp: mustDecode(Ipv4, B[1]),
      reason: 'policy',
      ruleId: null,
      policyVersion: mustDecode(NonNegativeInt, 1),
    });
    await append(store, revoked);
    const voided = await one(store, 'hostvoids.h2', 'PairTokensVoided', 'tokens a→b voided at h2');
    assert.deepEqual(voided.payload, { pairId, hostId: 'h2', vni: VNI, srcIp: A[1], dstIp: B[1], voidUpTo: Math.max(...expiries) });
    assert.equal(voided.causationId, revoked.id);
    // Allowed again at once (an authorisation stamped no later than the voided ones): the new
    // token still expires after the void time, so the destination accepts it.
    const again = authorized(A, B);
    await append(store, { ...again, occurredAt: new Date((Math.max(...expiries) - LIFETIME) * 1000).toISOString() } as DomainEvent);
    const fresh = await until(
      async () => (await eventsOf(store, `hostpairs.h1.${pairId}`, 'PairTokenIssued')).find((e) => e.causationId === again.id),
      'a token for the pair allowed again',
    );
    assert.equal(fresh.payload.expiry, Math.max(...expiries) + 1);
  });

  it('the whole log holds no key and no token in plaintext (raw, base64 or hex)', async () => {
    assert.equal(secrets.length, 6);
    const forms = secrets.flatMap((s) => [s, Buffer.from(s.toString('base64')), Buffer.from(s.toString('base64url')), Buffer.from(s.toString('hex'))]);
    let records = 0;
    for await (const raw of store.readRaw({ stream: LOG_STREAM, filter: ALL_EVENTS })) {
      records++;
      const data = Buffer.from(raw.data);
      for (const f of forms) assert.ok(!data.includes(f), `record ${raw.position} (${raw.subject}) holds a secret`);
    }
    assert.ok(records >= 8, `scanned ${records} records`);
  });
});

describe('token issuer rebuild', () => {
  it('makes a missing token with the key the log holds, even when that key was stored after the pair was authorised', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vnet-issuer-'));
    const issuerKeys = generateHostKeyPair();
    writeFileSync(join(dir, 'issuer.json'), JSON.stringify(issuerKeys), { mode: 0o600 });
    const nats = await startTestNats(vnetTopology());
    const store = await nats.connect(domainEventCodec, 'token-issuer-rebuild');
    let svc: ServiceProcess | undefined;
    try {
      // As a crash would leave it: b's mapping, then a→b authorised, then b's key (decided for
      // the mapping, stored late), and no token for a→b yet.
      const mapB = mapped(...B);
      const auth = authorized(A, B);
      const key = randomBytes(32);
      const ctx = keyContext('b', 'h2', 1);
      const d = decodeEvent({
        type: 'VmKeyIssued',
        schemaVersion: 1,
        id: derivedEventId('token-issuer', mapB.id, 'VmKeyIssued', 'b'),
        ...causedBy(mapB),
        occurredAt: new Date().toISOString(),
        payload: { vmId: 'b', hostId: 'h2', keyId: 1, reason: 'placed', sealedForHost: sealKey(key, hosts.h2!.publicKey, ctx), sealedForIssuer: sealKey(key, issuerKeys.publicKey, ctx) },
      });
      assert.ok(E.isRight(d));
      await append(store, registered('h1'), registered('h2'), mapB, auth, d.right);
      svc = await startService('token-issuer', nats.url, { env: { VNET_ISSUER_KEY_FILE: join(dir, 'issuer.json'), VNET_TOKEN_LIFETIME_S: String(LIFETIME) } });
      const ev = await one(store, streamNameOf(auth), 'PairTokenIssued', 'the missing token a→b');
      const p = ev.payload;
      assert.equal(p.keyId, 1);
      const token = openSealed(p.sealedToken, hosts.h1!.privateKey, tokenContext(p.pairId, p.keyId, p.expiry, p.dstUnderlay), 16);
      const fields = { vni: VNI, src: ipv4ToInt(A[1]), dst: ipv4ToInt(B[1]), dstUnderlay: p.dstUnderlay, keyId: 1, expiry: p.expiry };
      assert.ok(tokenMatches(key, fields, token), 'made with the key host h2 holds');
      assert.equal((await eventsOf(store, 'hostkeys.h2', 'VmKeyIssued')).length, 1, 'no second key for b');
    } finally {
      await svc?.stop();
      await store.close();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
