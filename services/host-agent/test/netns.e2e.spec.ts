/**
 * Real kernels as VMs: two Linux network namespaces, each with a TUN device bridged by socat
 * to its host agent's VM port, on two different host agents (real processes, with gateway,
 * mapping, authorization and token issuer, against a real nats-server). The namespaces' own
 * IP stacks talk through vnet, every packet carrying its pair's token: `ping` from one to
 * the other gets the other kernel's echo replies, a UDP exchange between sockets in the two
 * namespaces goes both ways, a policy rule denying the pair stops the ping (the source host
 * removes the pair within a second, the destination host voids its tokens) and removing the
 * rule restores it. Last, ns-a migrates live to n3 while ns-b pings it every 10 ms: its socat
 * is re-pointed to n3's VM port and the ping goes on.
 *
 *   VNI 4141: ns-a 10.0.0.1 @n1 (underlay 127.0.1.41), ns-b 10.0.0.2 @n2 (127.0.1.42);
 *   n3 (127.0.1.43) takes ns-a
 *
 * 10.x addresses exist only inside the namespaces; the root namespace's addresses and routes
 * are checked to be unchanged. Skipped (with the reason) where namespaces or TUN are unavailable.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { until } from '@vnet/eventstore/testing';
import { createNsVm, destroyNsVm, hasCommand, migrationEnd, netnsUnavailable, repointNsVm, rootTenLines, sleep, stopChild, type NsVm, type Plane, type PlaneVm, startPlane } from './plane';

const unavailable = await netnsUnavailable();
const HOSTS = [
  { hostId: 'n1', addr: '127.0.1.41' },
  { hostId: 'n2', addr: '127.0.1.42' },
  { hostId: 'n3', addr: '127.0.1.43' },
];
const VMS: PlaneVm[] = [
  { vmId: 'ns-a', networkId: 'nsnet', vni: 4141, ip: '10.0.0.1', hostId: 'n1' },
  { vmId: 'ns-b', networkId: 'nsnet', vni: 4141, ip: '10.0.0.2', hostId: 'n2' },
];
const NS = { a: `vnet-t-${process.pid}-a`, b: `vnet-t-${process.pid}-b` };
const DEV = { a: `vt${process.pid}a`, b: `vt${process.pid}b` };

let plane: Plane | undefined;
let rootBefore: string[] = [];
const nsVms: Partial<Record<'a' | 'b', NsVm>> = {};
const extra: ChildProcess[] = [];

/** `N packets transmitted, M received` from ping's summary. */
function pingCounts(out: string): { sent: number; received: number } {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(out);
  return { sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0) };
}

describe('network namespaces as VMs on two host agents', { skip: unavailable }, () => {
  before(async () => {
    rootBefore = await rootTenLines([DEV.a, DEV.b]);
    plane = await startPlane('netns-e2e', HOSTS, [{ networkId: 'nsnet', vni: 4141, cidr: '10.0.0.0/24' }], VMS, { migration: { graceMs: 3000, prepareTimeoutMs: 3000 } });
    nsVms.a = await createNsVm(NS.a, DEV.a, '10.0.0.1/24', await plane.vmPort(VMS[0]!), { movable: true });
    nsVms.b = await createNsVm(NS.b, DEV.b, '10.0.0.2/24', await plane.vmPort(VMS[1]!));
    // Each agent learns where its VM is from the first packet the VM sends: one ping each way.
    // The first may be lost (the other side has not spoken yet); by the second both have.
    for (const [from, to] of [['a', '10.0.0.2'], ['b', '10.0.0.1'], ['a', '10.0.0.2']] as const) {
      if (hasCommand('ping')) await nsVms[from]!.exec('ping', ['-c', '1', '-W', '1', to], 5000);
      else await runWithInput(NS[from], 'hello\n', ['socat', '-u', '-', `UDP:${to}:9`]);
    }
  });

  after(async () => {
    for (const p of extra) await stopChild(p);
    await destroyNsVm(NS.a, nsVms.a?.socat, DEV.a);
    await destroyNsVm(NS.b, nsVms.b?.socat);
    await plane?.stop();
  });

  it('the virtual addresses exist only inside the namespaces', async () => {
    const a = await nsVms.a!.exec('ip', ['-4', '-o', 'addr', 'show', 'dev', DEV.a]);
    assert.match(a.stdout, /inet 10\.0\.0\.1\/24/);
    const b = await nsVms.b!.exec('ip', ['-4', '-o', 'addr', 'show', 'dev', DEV.b]);
    assert.match(b.stdout, /inet 10\.0\.0\.2\/24/);
    assert.deepEqual(await rootTenLines([DEV.a, DEV.b]), rootBefore, 'the root namespace gained a 10.x address/route or a test device');
  });

  it('ping from one namespace to the other gets the other kernel’s echo replies', { skip: hasCommand('ping') ? false : 'ping (iputils-ping) is not installed' }, async () => {
    const r = await nsVms.a!.exec('ping', ['-c', '5', '-i', '0.2', '-W', '2', '10.0.0.2'], 20_000);
    const { sent, received } = pingCounts(r.stdout);
    assert.equal(sent, 5, `ping output: ${r.stdout}${r.stderr}`);
    assert.ok(received >= 4, `only ${received}/5 echo replies: ${r.stdout}`);
    assert.match(r.stdout, /from 10\.0\.0\.2: icmp_seq=\d+ ttl=64/);
    const back = await nsVms.b!.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.0.0.1'], 20_000);
    assert.ok(pingCounts(back.stdout).received >= 2, `ping b → a: ${back.stdout}`);
    // The agents carried them: in from the VM port and out on the underlay on one host, in
    // from the underlay and out to the VM port on the other (ping's echoes both ways).
    for (const h of HOSTS.slice(0, 2)) {
      for (const dir of ['vm_rx', 'vm_tx', 'underlay_rx', 'underlay_tx']) {
        assert.ok((await plane!.counter(h.hostId, 'packets', dir)) >= 5, `${h.hostId} ${dir} packets`);
      }
    }
  });

  it('a rule denying the pair revokes it within a second and stops the ping; removing the rule restores it', { skip: hasCommand('ping') ? false : 'ping (iputils-ping) is not installed' }, async (t) => {
    const revoked = () => plane!.counter('n1', 'pair_events', 'revocations');
    const before = await revoked();
    const t0 = Date.now();
    await plane!.publish('PolicyRuleSet', { ruleId: 'deny-a-b', action: 'deny', from: { vm: 'ns-a' }, to: { vm: 'ns-b' }, description: 'test: a may not reach b' });
    await until(async () => ((await revoked()) > before ? true : undefined), 'n1 removes the pair', 5000);
    const tookMs = Date.now() - t0;
    assert.ok(tookMs < 1000, `the pair was removed ${tookMs} ms after the rule was published (must be < 1 s)`);
    t.diagnostic(`pair removed at the source ${tookMs} ms after the rule was published`);
    // And the destination host voids the pair's tokens (a source ignoring the revocation gets nowhere).
    await until(async () => ((await plane!.counter('n2', 'pair_events', 'voids')) >= 1 ? true : undefined), 'n2 voids the tokens of ns-a → ns-b', 5000);
    const denied = await nsVms.a!.exec('ping', ['-c', '4', '-i', '0.25', '-W', '1', '10.0.0.2'], 20_000);
    assert.equal(pingCounts(denied.stdout).received, 0, `no echo reply while the pair is denied: ${denied.stdout}`);
    assert.ok((await plane!.counter('n1', 'drops', 'pair-denied')) > 0, 'the echo requests were dropped at the source as denied');

    await plane!.publish('PolicyRuleRemoved', { ruleId: 'deny-a-b' });
    // The source remembers the denial for two seconds; then the next packet asks again.
    const back = await nsVms.a!.exec('ping', ['-c', '12', '-i', '0.5', '-W', '1', '10.0.0.2'], 30_000);
    assert.ok(pingCounts(back.stdout).received >= 4, `ping restored once the rule is gone: ${back.stdout}`);
  });

  it('a UDP datagram from a socket in one namespace reaches a socket in the other, and the answer comes back', async () => {
    // An echo server in ns-b (one datagram, bounded by timeout), a client in ns-a.
    const server = spawn('ip', ['netns', 'exec', NS.b, 'timeout', '10', 'socat', '-T', '5', 'UDP-RECVFROM:7007,bind=10.0.0.2', 'SYSTEM:cat'], { stdio: 'ignore' });
    extra.push(server);
    await until(async () => ((await nsVms.b!.exec('ss', ['-Hlun', 'sport = :7007'], 2000)).stdout.includes('10.0.0.2:7007') ? true : undefined), 'echo server in ns-b', 5000);
    let reply = '';
    for (let i = 0; i < 3 && !reply.includes('hello through vnet'); i++) {
      const r = await runWithInput(NS.a, 'hello through vnet\n', ['socat', '-T', '2', '-', 'UDP:10.0.0.2:7007']);
      reply = r;
      if (!reply) await sleep(200);
    }
    assert.equal(reply.trim(), 'hello through vnet');
  });
  it('ns-a migrates to n3 while ns-b pings it every 10 ms: its socat is re-pointed and the ping goes on', { skip: hasCommand('ping') ? false : 'ping (iputils-ping) is not installed' }, async (t) => {
    const COUNT = 500;
    // 500 echo requests, one every 10 ms (about 5 s), each waited for at most a second.
    const ping = nsVms.b!.exec('ping', ['-i', '0.01', '-c', String(COUNT), '-W', '1', '10.0.0.1'], 30_000);
    await sleep(800);
    await plane!.publish('MigrationRequested', { migrationId: 'ns-move', vmId: 'ns-a', toHostId: 'n3', reason: 'test: live migration of a kernel' });
    // The hypervisor's part: once n3 has the VM's port, the VM resumes there (socat
    // re-pointed) and announces itself with one packet, as a resumed VM's RARP does.
    const port = await until(async () => (await plane!.tables('n3')).vms.find((v) => v.vmId === 'ns-a')?.port, 'ns-a port on n3', 10_000, 5);
    const t0 = Date.now();
    nsVms.a = await repointNsVm(nsVms.a!, `127.0.0.1:${port}`);
    const announce = nsVms.a.exec('ping', ['-c', '1', '-W', '1', '10.0.0.2'], 5000);
    t.diagnostic(`socat re-pointed to n3 in ${Date.now() - t0} ms`);
    const end = await migrationEnd(plane!, 'ns-move');
    const r = await ping;
    await announce;
    assert.equal(end.type, 'MigrationCompleted', JSON.stringify(end.payload));
    const { sent, received } = pingCounts(r.stdout);
    const seqs = [...r.stdout.matchAll(/icmp_seq=(\d+)/g)].map((m) => Number(m[1]));
    const p = end.type === 'MigrationCompleted' ? end.payload : undefined;
    t.diagnostic(`ping: ${sent} sent, ${received} replies (${sent - received} lost); the system counted ${p?.packetsLost} lost, blackout ${p?.blackoutMs} ms`);
    assert.equal(sent, COUNT, `ping output: ${r.stdout.slice(-500)}${r.stderr}`);
    assert.ok(sent - received < 50, `${sent - received} echo requests or replies lost`);
    assert.ok(Math.max(...seqs) >= COUNT - 10, 'the ping goes on to the end, answered from n3');
    assert.ok(p?.packetsLost !== undefined && p.blackoutMs !== null, 'the loss and the blackout are reported');
    assert.equal((await plane!.tables('n2')).tunnels['4141']?.['10.0.0.1']?.hostId, 'n3');
    assert.equal((await plane!.tables('n1')).vms.some((v) => v.vmId === 'ns-a'), false);
    assert.deepEqual(await rootTenLines([DEV.a, DEV.b]), rootBefore, 'the root namespace gained a 10.x address/route or a test device');
  });
});

/** Runs `cmd` in namespace `ns` with `input` on stdin; resolves its stdout (bounded to 5 s). */
function runWithInput(ns: string, input: string, cmd: string[]): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'exec', ns, 'timeout', '5', ...cmd], { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d) => (out += String(d)));
    p.on('close', () => resolve(out));
    p.stdin.end(input);
  });
}
