import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as t from 'io-ts';
import fc from 'fast-check';
import {
  Cidr,
  cidrContains,
  cidrParts,
  DisplayName,
  EventId,
  HostId,
  intToIpv4,
  Ipv4,
  ipv4ToInt,
  IsoTimestamp,
  mustDecode,
  PositiveInt,
  PublicKey,
  RegionId,
  UnderlayAddress,
  VmId,
  Vni,
} from '../src/index';
import { arbitraryCidr, arbitraryIpv4 } from '../src/testing/arbitraries';

function table(codec: t.Mixed, accepts: unknown[], rejects: unknown[]): void {
  for (const v of accepts) it(`accepts ${JSON.stringify(v)}`, () => assert.equal(codec.is(v), true));
  for (const v of rejects) it(`rejects ${JSON.stringify(v)}`, () => assert.equal(codec.is(v), false));
}

describe('aggregate ids (NATS subject tokens)', () => {
  for (const codec of [RegionId, HostId, VmId]) {
    describe(codec.name, () =>
      table(codec, ['h1', 'web-1', 'a', '0_x', 'a'.repeat(63)], ['', 'a.b', 'a b', '*', '>', 'A1', '-a', '_a', 'a'.repeat(64), 7, null]),
    );
  }
  it('keeps a VmId from being passed as a HostId (compile-time)', () => {
    const vm = mustDecode(VmId, 'web-1');
    const host = (h: HostId): string => h;
    // @ts-expect-error a VmId is not a HostId, although both are strings
    host(vm);
    // @ts-expect-error a plain string is not a HostId either
    host('h1');
    assert.equal(host(mustDecode(HostId, 'h1')), 'h1');
  });
});

describe('EventId', () =>
  table(EventId, [globalThis.crypto.randomUUID(), '00000000-0000-0000-0000-000000000000'], ['not-a-uuid', '0000000000000000000000000000000', 'ABCDEF00-0000-0000-0000-000000000000']));

describe('Vni (24 bits)', () => table(Vni, [0, 1001, 16777215], [16777216, -1, 1.5, '1001', NaN]));

describe('Ipv4', () =>
  table(Ipv4, ['0.0.0.0', '10.0.0.5', '255.255.255.255'], ['10.0.0.256', '10.0.0', '10.0.0.1.2', '010.0.0.1', '10.0.0.01', ' 10.0.0.1', '1.2.3.4/32', 'a.b.c.d']));

describe('Cidr', () => {
  table(Cidr, ['10.0.0.0/24', '0.0.0.0/0', '10.0.0.1/32', '192.168.4.0/22'], ['10.0.0.1/24', '10.0.0.0/33', '10.0.0.0', '10.0.0.0/024', '192.168.5.0/22']);
  it('cidrParts and cidrContains agree with the prefix', () => {
    const net = mustDecode(Cidr, '10.1.2.0/23');
    assert.deepEqual(cidrParts(net), { network: '10.1.2.0', prefix: 23, size: 512 });
    assert.equal(cidrContains(net, mustDecode(Ipv4, '10.1.3.255')), true);
    assert.equal(cidrContains(net, mustDecode(Ipv4, '10.1.4.0')), false);
    assert.equal(cidrContains(mustDecode(Cidr, '0.0.0.0/0'), mustDecode(Ipv4, '255.255.255.255')), true);
  });
  it('every network contains its own address and not the address after its last one', () =>
    fc.assert(
      fc.property(arbitraryCidr, (c) => {
        const { network, size } = cidrParts(c);
        assert.equal(cidrContains(c, network), true);
        assert.equal(cidrContains(c, intToIpv4(ipv4ToInt(network) + size - 1)), true);
        if (size < 2 ** 32) assert.equal(cidrContains(c, intToIpv4(ipv4ToInt(network) + size)), false);
      }),
    ));
});

describe('ipv4ToInt / intToIpv4', () => {
  it('are inverse', () => fc.assert(fc.property(arbitraryIpv4, (ip) => intToIpv4(ipv4ToInt(ip)) === ip)));
  it('give the unsigned value', () => assert.equal(ipv4ToInt('255.255.255.255'), 0xffffffff));
});

describe('UnderlayAddress', () =>
  table(
    UnderlayAddress,
    ['10.0.0.1:6081', 'h1.dc1.example:1', 'localhost:65535', 'Host-1.Example.com:443', `${'a.'.repeat(125)}abc:80` /* 253 chars */],
    ['10.0.0.1', '10.0.0.1:0', '10.0.0.1:65536', '10.0.0.256:80', '[::1]:80', 'a..b:80', '-a.example:80', 'a.example.:80', `${'a'.repeat(64)}.x:80`, `${'a.'.repeat(127)}ab:80`, 'h1:080'],
  ));

describe('PublicKey (X25519, 32 bytes)', () => {
  const key = btoa(String.fromCharCode(...new Uint8Array(32).fill(7)));
  table(PublicKey, [key, `${'A'.repeat(43)}=`], [key.slice(0, -1), btoa('short'), `${'A'.repeat(42)}B=`, btoa(String.fromCharCode(...new Uint8Array(33)))]);
});

describe('IsoTimestamp', () =>
  table(
    IsoTimestamp,
    ['2024-05-01T12:00:00.000Z', '2024-02-29T00:00:00Z', '2024-05-01T12:00:00+02:00', '2024-05-01T12:00:00.123456789Z'],
    ['2024-02-30T00:00:00Z', '2023-02-29T00:00:00Z', '2024-05-01 12:00:00Z', '2024-05-01T12:00:00', '2024-05-01T24:00:00Z', '2024-13-01T00:00:00Z', 1714564800000, 'yesterday'],
  ));

describe('DisplayName', () => table(DisplayName, ['EU West', 'Zürich 1', 'x'], ['', '   ', 'a\nb', 'tab\there', 'x'.repeat(129)]));

describe('PositiveInt', () => table(PositiveInt, [1, 64, 2 ** 40], [0, -1, 1.5, 2 ** 53]));

describe('mustDecode', () => {
  it('throws with the problem for an invalid literal', () =>
    assert.throws(() => mustDecode(Vni, 2 ** 24), /invalid Vni: \(event\): got 16777216, expected Vni \(integer 0\.\.16777215\)/));
});
