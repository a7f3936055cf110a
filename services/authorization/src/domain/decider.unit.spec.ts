import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  Cidr,
  HostId,
  Ipv4,
  ipv4ToInt,
  MigrationId,
  mustDecode,
  NetworkId,
  PositiveInt,
  newEvent,
  pairIdOf,
  ProjectId,
  RuleId,
  Tag,
  UnderlayAddress,
  VmId,
  Vni,
  type EventOf,
  type Selector,
} from '@vnet/events';
import { applyDecision, decide } from './decider';
import type { AuthInput, AuthOutput } from './messages';
import { evaluate } from './policy';
import { factsOf, initialState, type AuthState } from './state';

const vni = (n: number) => mustDecode(Vni, n);
const network = (id: string, n: number) =>
  newEvent('NetworkCreated', { networkId: mustDecode(NetworkId, id), projectId: mustDecode(ProjectId, 'p1'), vni: vni(n), cidr: mustDecode(Cidr, '10.0.0.0/8') });
const mapped = (vm: string, n: number, ip: string, host: string) =>
  newEvent('VmMappingAdded', { vni: vni(n), ip: mustDecode(Ipv4, ip), vmId: mustDecode(VmId, vm), hostId: mustDecode(HostId, host), underlay: mustDecode(UnderlayAddress, `127.0.1.${host.slice(1)}:6081`) });
const unmapped = (vm: string, n: number, ip: string, host: string) =>
  newEvent('VmMappingRemoved', { vni: vni(n), ip: mustDecode(Ipv4, ip), vmId: mustDecode(VmId, vm), hostId: mustDecode(HostId, host), reason: 'vm-deleted' });
const request = (vm: string, n: number, src: string, dst: string, host: string) =>
  newEvent('PairRequested', {
    pairId: pairIdOf(n, ipv4ToInt(src), ipv4ToInt(dst)),
    hostId: mustDecode(HostId, host),
    vni: vni(n),
    srcVmId: mustDecode(VmId, vm),
    srcIp: mustDecode(Ipv4, src),
    dstIp: mustDecode(Ipv4, dst),
  });
const sel = (s: string): Selector =>
  s === 'any' ? { any: true } : s.startsWith('net:') ? { network: mustDecode(NetworkId, s.slice(4)) } : s.startsWith('tag:') ? { tag: mustDecode(Tag, s.slice(4)) } : { vm: mustDecode(VmId, s.slice(3)) };
const rule = (id: string, action: 'allow' | 'deny', from: string, to: string) =>
  newEvent('PolicyRuleSet', { ruleId: mustDecode(RuleId, id), action, from: sel(from), to: sel(to) });
const unrule = (id: string) => newEvent('PolicyRuleRemoved', { ruleId: mustDecode(RuleId, id) });
const tagged = (vm: string, ...tags: string[]) => newEvent('VmTagged', { vmId: mustDecode(VmId, vm), tags: tags.map((t) => mustDecode(Tag, t)) });

const moved = (vm: string, n: number, ip: string, from: string, to: string) =>
  newEvent('VmMoved', {
    migrationId: mustDecode(MigrationId, `m-${vm}`),
    vmId: mustDecode(VmId, vm),
    vni: vni(n),
    ip: mustDecode(Ipv4, ip),
    fromHostId: mustDecode(HostId, from),
    toHostId: mustDecode(HostId, to),
    fromUnderlay: mustDecode(UnderlayAddress, `127.0.1.${from.slice(1)}:6081`),
    toUnderlay: mustDecode(UnderlayAddress, `127.0.1.${to.slice(1)}:6081`),
    graceMs: mustDecode(PositiveInt, 2000),
  });

/** Folds inputs with their decisions; returns the state and every decision. */
function run(inputs: readonly AuthInput[], s: AuthState = initialState()): { state: AuthState; out: AuthOutput[] } {
  const out: AuthOutput[] = [];
  for (const e of inputs) {
    const d = decide(s, e);
    out.push(...d);
    s = applyDecision(s, e, d);
  }
  return { state: s, out };
}
const last = (r: { out: AuthOutput[] }) => r.out[r.out.length - 1];

// Two networks: web (VNI 100: a on h1, b on h2) and db (VNI 200: c on h3). VNIs differ, so a
// pair across networks is requested in the destination's VNI only by a VM of that VNI…
// …which is why cross-network pairs here use VMs of both networks in one VNI (a shared
// services VNI 300 with x from net "web2" and y from net "db2").
const world: AuthInput[] = [
  network('web', 100),
  network('db', 200),
  mapped('a', 100, '10.0.0.1', 'h1'),
  mapped('b', 100, '10.0.0.2', 'h2'),
  mapped('c', 200, '10.0.0.1', 'h3'),
];

describe('authorization decider', () => {
  it('authorises the live pairs to a VM that moved again, with its new host; pairs from it wait for the new host to ask', () => {
    const r = run([...world, request('a', 100, '10.0.0.1', '10.0.0.2', 'h1'), request('b', 100, '10.0.0.2', '10.0.0.1', 'h2')]);
    const after = run([moved('b', 100, '10.0.0.2', 'h2', 'h4')], r.state);
    assert.equal(after.out.length, 1, JSON.stringify(after.out));
    const d = after.out[0];
    assert.equal(d?.type, 'PairAuthorized');
    if (d?.type !== 'PairAuthorized') return;
    assert.deepEqual([d.payload.hostId, d.payload.srcIp, d.payload.dstIp, d.payload.dstHostId, d.payload.dstUnderlay], ['h1', '10.0.0.1', '10.0.0.2', 'h4', '127.0.1.4:6081']);
    // The moved VM asks from its new host: allowed (its old host may no longer).
    assert.equal(last(run([request('b', 100, '10.0.0.2', '10.0.0.1', 'h4')], after.state))?.type, 'PairAuthorized');
    assert.equal(last(run([request('b', 100, '10.0.0.2', '10.0.0.1', 'h2')], after.state))?.type, 'PairDenied');
  });

  it('allows VMs of one network by default, naming no rule and the policy version', () => {
    const r = run([...world, request('a', 100, '10.0.0.1', '10.0.0.2', 'h1')]);
    const d = last(r);
    assert.equal(d?.type, 'PairAuthorized');
    if (d?.type !== 'PairAuthorized') return;
    assert.equal(d.payload.ruleId, null);
    assert.equal(d.payload.policyVersion, 0);
    assert.equal(d.payload.dstVmId, 'b');
    assert.equal(d.payload.dstHostId, 'h2');
    assert.equal(d.payload.dstUnderlay, '127.0.1.2:6081');
    assert.equal(r.state.pairs.size, 1);
  });

  it('refuses unknown sources and destinations, saying which', () => {
    const r1 = run([...world, request('a', 100, '10.0.0.1', '10.0.0.9', 'h1')]);
    assert.deepEqual([last(r1)?.type, (last(r1)?.payload as { reason: string }).reason], ['PairDenied', 'unknown-destination']);
    const r2 = run([...world, request('a', 100, '10.0.0.1', '10.0.0.2', 'h2')]);
    assert.deepEqual([last(r2)?.type, (last(r2)?.payload as { reason: string }).reason], ['PairDenied', 'unknown-source']);
  });

  it('deny wins over the default and over allow rules; the smallest matching rule id is named', () => {
    const r = run([...world, rule('r2-allow', 'allow', 'any', 'any'), rule('r9-deny', 'deny', 'vm:a', 'vm:b'), rule('r5-deny', 'deny', 'tag:blocked', 'any'), tagged('a', 'blocked'), request('a', 100, '10.0.0.1', '10.0.0.2', 'h1')]);
    const d = last(r);
    assert.equal(d?.type, 'PairDenied');
    if (d?.type !== 'PairDenied') return;
    assert.equal(d.payload.reason, 'policy');
    assert.equal(d.payload.ruleId, 'r5-deny');
    assert.equal(d.payload.policyVersion, 3);
    assert.match(d.payload.detail, /r5-deny denies/);
  });

  it('a policy change revokes exactly the live pairs it no longer allows, with the new version', () => {
    const more = [mapped('d', 100, '10.0.0.4', 'h1')];
    const r = run([...world, ...more, request('a', 100, '10.0.0.1', '10.0.0.2', 'h1'), request('d', 100, '10.0.0.4', '10.0.0.2', 'h1'), rule('no-a', 'deny', 'vm:a', 'net:web')]);
    const revoked = r.out.filter((o) => o.type === 'PairRevoked');
    assert.equal(revoked.length, 1);
    const p = revoked[0]!.payload as EventOf<'PairRevoked'>['payload'];
    assert.equal(p.pairId, pairIdOf(100, ipv4ToInt('10.0.0.1'), ipv4ToInt('10.0.0.2')));
    assert.equal(p.ruleId, 'no-a');
    assert.equal(p.policyVersion, 1);
    assert.equal(r.state.pairs.size, 1, 'the pair of d stays');
    // Removing the rule allows a new request again; nothing is revoked by the removal.
    const r2 = run([unrule('no-a'), request('a', 100, '10.0.0.1', '10.0.0.2', 'h1')], r.state);
    assert.deepEqual(r2.out.map((o) => o.type), ['PairAuthorized']);
    assert.equal((r2.out[0]!.payload as { policyVersion: number }).policyVersion, 2);
  });

  it('new tags revoke the pairs a tag rule now denies; a VM gone revokes its pairs', () => {
    const r = run([...world, rule('quarantine', 'deny', 'any', 'tag:quarantined'), request('a', 100, '10.0.0.1', '10.0.0.2', 'h1'), tagged('b', 'quarantined')]);
    assert.deepEqual(r.out.map((o) => o.type), ['PairAuthorized', 'PairRevoked']);
    const r2 = run([...world, request('a', 100, '10.0.0.1', '10.0.0.2', 'h1'), unmapped('b', 100, '10.0.0.2', 'h2')]);
    assert.deepEqual(r2.out.map((o) => [o.type, (o.payload as { reason?: string }).reason ?? '']), [['PairAuthorized', ''], ['PairRevoked', 'vm-gone']]);
    assert.equal(r2.state.pairs.size, 0);
  });

  it('allows pairs across networks only through an allow rule', () => {
    // One VNI whose VMs belong to networks by VNI: a cross-network pair is denied by default.
    const x = run([...world, request('a', 100, '10.0.0.1', '10.0.0.2', 'h1')]);
    assert.equal(last(x)?.type, 'PairAuthorized');
    const facts = (s: AuthState, vm: string) => factsOf(s, s.vms.get(mustDecode(VmId, vm))!);
    const s = x.state;
    assert.equal(evaluate([], facts(s, 'a'), facts(s, 'c')).allowed, false);
    const allow = { ruleId: mustDecode(RuleId, 'web-to-db'), action: 'allow' as const, from: sel('net:web'), to: sel('net:db') };
    const v = evaluate([allow], facts(s, 'a'), facts(s, 'c'));
    assert.deepEqual([v.allowed, v.ruleId], [true, 'web-to-db']);
    assert.equal(evaluate([allow], facts(s, 'c'), facts(s, 'a')).allowed, false, 'rules have a direction');
  });

  it('keeps every live pair allowed by the current policy, whatever happens (property)', () => {
    const vms = ['a', 'b', 'c', 'd'];
    const ipOf = (vm: string) => `10.0.0.${vms.indexOf(vm) + 1}`;
    const hostOf = (vm: string) => `h${vms.indexOf(vm) + 1}`;
    const selArb = fc.constantFrom('any', 'net:web', 'net:db', 'tag:t1', 'tag:t2', 'vm:a', 'vm:b');
    const inputArb: fc.Arbitrary<AuthInput> = fc.oneof(
      fc.tuple(fc.constantFrom('r1', 'r2', 'r3', 'r4'), fc.constantFrom('allow', 'deny') as fc.Arbitrary<'allow' | 'deny'>, selArb, selArb).map(([id, a, f, t]) => rule(id, a, f, t)),
      fc.constantFrom('r1', 'r2', 'r3', 'r4').map(unrule),
      fc.tuple(fc.constantFrom(...vms), fc.subarray(['t1', 't2'])).map(([vm, tags]) => tagged(vm, ...tags)),
      fc.tuple(fc.constantFrom(...vms), fc.constantFrom(...vms)).map(([a, b]) => request(a, 100, ipOf(a), ipOf(b), hostOf(a))),
      fc.constantFrom(...vms).map((vm) => unmapped(vm, 100, ipOf(vm), hostOf(vm))),
      fc.constantFrom(...vms).map((vm) => mapped(vm, 100, ipOf(vm), hostOf(vm))),
    );
    // VNI 100 holds VMs of two "networks": a and b are web, c and d are db (by VNI→network, all
    // would be one network; so networks come from a second VNI mapping here: 100 is web).
    const start = run([network('web', 100), ...vms.map((vm) => mapped(vm, 100, ipOf(vm), hostOf(vm)))]).state;
    fc.assert(
      fc.property(fc.array(inputArb, { maxLength: 40 }), (inputs) => {
        const { state } = run(inputs, structuredClone(start));
        for (const p of state.pairs.values()) {
          const src = state.vms.get(p.srcVmId);
          const dst = state.vms.get(p.dstVmId);
          assert.ok(src && dst, `live pair ${p.pairId} has both VMs`);
          assert.ok(evaluate(state.rules.values(), factsOf(state, src), factsOf(state, dst)).allowed, `live pair ${p.pairId} is allowed`);
        }
      }),
      { numRuns: 300 },
    );
  });
});
