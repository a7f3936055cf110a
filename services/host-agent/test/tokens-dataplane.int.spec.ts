/**
 * Token checking in the data plane, over loopback: two data planes with tokens on (A on
 * 127.0.1.31, B on 127.0.1.32), VM a on A, VM b on B in VNI 7, VM c on B in VNI 8 with b's
 * address. A packet leaves A only with its pair's token and reaches b only when the token
 * checks; each kind of bad token is dropped, counted and reported, and none reaches a VM.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { encodeVnetFrame } from '@vnet/geneve';
import { mintToken } from '@vnet/tokens';
import { createDataPlane, type DataPlane, type PairRoute } from '../src/adapters/dataplane';
import { TunnelTable } from '../src/domain/tunnels';
import { Endpoint, ipv4Packet } from './support';

const NOW = Math.floor(Date.now() / 1000);
const ip = (s: string) => s.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const A = ip('10.7.0.1');
const B = ip('10.7.0.2');
const keyB = randomBytes(32);

describe('data plane with tokens', () => {
  let a: DataPlane;
  let b: DataPlane;
  const vm: Record<string, Endpoint> = {};
  const rejected: string[] = [];

  /** A pair route a→b whose token is made from `o` (defaults: valid). */
  const route = (o: Partial<{ key: Uint8Array; keyId: number; expiry: number; underlay: string; vni: number }> = {}): PairRoute => {
    const f = { key: keyB, keyId: 1, expiry: NOW + 300, underlay: b.underlay, vni: 7, ...o };
    return { dstUnderlay: b.underlay, keyId: f.keyId, expiry: f.expiry, token: mintToken(f.key, { vni: f.vni, src: A, dst: B, dstUnderlay: f.underlay, keyId: f.keyId, expiry: f.expiry }) };
  };
  const send = (payload: string) => vm.a!.send(ipv4Packet('10.7.0.1', '10.7.0.2', payload), `127.0.0.1:${a.vmPorts().find((p) => p.vmId === 'a')!.port}`);

  before(async () => {
    a = await createDataPlane({ hostId: 'A', underlay: '127.0.1.31:0', tokens: { keyOf: () => undefined } });
    b = await createDataPlane({
      hostId: 'B',
      underlay: '127.0.1.32:0',
      tokens: { keyOf: (vmId, keyId) => (vmId === 'b' && keyId === 1 ? keyB : undefined), onRejected: (reason) => rejected.push(reason) },
    });
    const tunnels = (): ReadonlyMap<number, TunnelTable> => {
      const t7 = new TunnelTable();
      t7.set('10.7.0.1', { vmId: 'a', hostId: 'A', underlay: a.underlay });
      t7.set('10.7.0.2', { vmId: 'b', hostId: 'B', underlay: b.underlay });
      const t8 = new TunnelTable();
      t8.set('10.7.0.2', { vmId: 'c', hostId: 'B', underlay: b.underlay });
      return new Map([[7, t7], [8, t8]]);
    };
    await a.apply({ vms: [{ vmId: 'a', vni: 7, ip: '10.7.0.1' }], tunnels: tunnels() });
    await b.apply({ vms: [{ vmId: 'b', vni: 7, ip: '10.7.0.2' }, { vmId: 'c', vni: 8, ip: '10.7.0.2' }], tunnels: tunnels() });
    for (const v of ['a', 'b', 'c']) vm[v] = await Endpoint.open();
    a.attachVm('a', vm.a!.address);
    b.attachVm('b', vm.b!.address);
    b.attachVm('c', vm.c!.address);
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close(), ...Object.values(vm).map((e) => e.close())]);
  });

  it('sends nothing without a pair, and delivers with a valid token', async () => {
    send('no pair yet');
    await vm.b!.quiet();
    assert.equal(a.counters().drops['no-pair'], 1);
    a.setPair(7, A, B, route());
    send('with a token');
    assert.match((await vm.b!.recv()).toString(), /with a token/);
  });

  it('drops each kind of bad token at the destination, counts and reports it, delivers none', async () => {
    const cases: Array<[string, PairRoute]> = [
      ['forged', route({ key: randomBytes(32) })],
      ['forged', route({ underlay: '127.0.1.99:6081' })], // made for another host
      ['forged', route({ vni: 8 })], // made for another VNI
      ['unknown-key', route({ keyId: 9 })],
    ];
    for (const [reason, r] of cases) {
      const before = b.counters().drops[`token-${reason}` as 'token-forged'];
      a.setPair(7, A, B, r);
      send(`bad: ${reason}`);
      for (let i = 0; i < 100 && b.counters().drops[`token-${reason}` as 'token-forged'] === before; i++) await new Promise((res) => setTimeout(res, 10));
      assert.equal(b.counters().drops[`token-${reason}` as 'token-forged'], before + 1, reason);
    }
    // The source does not send with an expired token: the pair counts as missing.
    const noPair = a.counters().drops['no-pair'];
    a.setPair(7, A, B, undefined); // (an older token never replaces a newer one)
    a.setPair(7, A, B, route({ expiry: NOW - 5 }));
    send('expired at the source');
    for (let i = 0; i < 100 && a.counters().drops['no-pair'] === noPair; i++) await new Promise((res) => setTimeout(res, 10));
    assert.equal(a.counters().drops['no-pair'], noPair + 1, 'an expired pair is not used');
    a.setPair(7, A, B, undefined);
    // Frames crafted on the wire: a token that expired (correct otherwise), a valid token in
    // VNI 8 (where b's address is VM c, so the VNI does not match the token) and a frame to
    // an address no VM of B has.
    const raw = dgram.createSocket('udp4');
    const to = b.underlay.split(':');
    const good = route();
    const frame = (vni: number, dst: string) =>
      encodeVnetFrame(vni, { keyId: 1, expiresAt: good.expiry, token: good.token }, ipv4Packet('10.7.0.1', dst, 'crafted'));
    const old = route({ expiry: NOW - 5 });
    const expired = encodeVnetFrame(7, { keyId: 1, expiresAt: old.expiry, token: old.token }, ipv4Packet('10.7.0.1', '10.7.0.2', 'crafted'));
    await new Promise<void>((res) => raw.send(expired, Number(to[1]), to[0], () => res()));
    await new Promise<void>((res) => raw.send(frame(8, '10.7.0.9'), Number(to[1]), to[0], () => res()));
    await new Promise<void>((res) => raw.send(frame(9, '10.7.0.2'), Number(to[1]), to[0], () => res()));
    raw.close();
    const settled = () => b.counters().drops['token-wrong-host'] > 0 && b.counters().drops['token-wrong-vni'] > 0 && b.counters().drops['token-expired'] > 0;
    for (let i = 0; i < 100 && !settled(); i++) await new Promise((res) => setTimeout(res, 10));
    assert.equal(b.counters().drops['token-expired'], 1, 'a token past its expiry');
    assert.equal(b.counters().drops['token-wrong-host'], 1, 'no VM of B has 10.7.0.9 in VNI 8');
    assert.equal(b.counters().drops['token-wrong-vni'], 1, '10.7.0.2 is a VM of B, but not in VNI 9');
    await vm.b!.quiet();
    await vm.c!.quiet();
    assert.deepEqual([...new Set(rejected)].sort(), ['expired', 'forged', 'unknown-key', 'wrong-host', 'wrong-vni']);
    // And the valid pair works again.
    a.setPair(7, A, B, route());
    send('valid again');
    assert.match((await vm.b!.recv()).toString(), /valid again/);
  });

  it('after the pair is revoked, its tokens are refused at the destination even from a source that ignores the revocation', async () => {
    const r = route();
    a.setPair(7, A, B, undefined);
    a.setPair(7, A, B, r);
    send('before the revocation');
    assert.match((await vm.b!.recv()).toString(), /before the revocation/);
    b.voidTokens(7, A, B, r.expiry); // what PairTokensVoided does at B
    const before = b.counters().drops['token-revoked'];
    send('after the revocation'); // A still has the pair: a source ignoring the revocation
    for (let i = 0; i < 100 && b.counters().drops['token-revoked'] === before; i++) await new Promise((res) => setTimeout(res, 10));
    assert.equal(b.counters().drops['token-revoked'], before + 1);
    await vm.b!.quiet();
    a.setPair(7, A, B, route({ expiry: r.expiry + 1 })); // a token made after a new authorisation
    send('authorised again');
    assert.match((await vm.b!.recv()).toString(), /authorised again/);
  });
});
