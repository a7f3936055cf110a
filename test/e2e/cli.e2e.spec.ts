/**
 * The `vnet` command as an operator uses it: `up` on a fresh data folder (nats-server, the
 * services, the demo), `publish` good and bad events, `tail`, Ctrl-C, and `up` again on the
 * same data (nothing changes).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createServer } from 'node:net';
import { EventStore } from '@vnet/eventstore';
import { freePort } from '@vnet/natsd';

const ROOT = join(import.meta.dirname, '../..');
const VNET = join(ROOT, 'services/cli/bin/vnet.js');
const dataDir = mkdtempSync(join(tmpdir(), 'vnet-e2e-'));
const started: ChildProcess[] = [];

function vnet(args: string[], env: Record<string, string> = {}, input?: string) {
  const r = spawnSync(process.execPath, [VNET, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', input, timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Starts `vnet up` and resolves with its output once it says it is up. */
async function up(port: number, httpPort: number): Promise<{ proc: ChildProcess; out: () => string }> {
  const env = { ...process.env };
  delete env.NATS_URL;
  const proc = spawn(process.execPath, [VNET, 'up', '--data-dir', dataDir, '--port', String(port), '--http-port', String(httpPort)], { cwd: ROOT, env });
  started.push(proc);
  let out = '';
  proc.stdout!.on('data', (c) => (out += c));
  proc.stderr!.on('data', (c) => (out += c));
  const end = Date.now() + 60_000;
  while (!out.includes('vnet is up')) {
    if (proc.exitCode !== null) throw new Error(`vnet up exited ${proc.exitCode}:\n${out}`);
    if (Date.now() > end) throw new Error(`vnet up not up in time:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, out: () => out };
}

async function interrupt(proc: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  proc.kill('SIGINT');
  const t = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  const code = await exited;
  clearTimeout(t);
  return code;
}

after(async () => {
  // Ctrl-C first (a SIGKILLed `vnet up` would leave its nats-server and services running),
  // SIGKILL only after 20 s.
  for (const p of started) if (p.exitCode === null && p.signalCode === null) await interrupt(p);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('vnet CLI', () => {
  it('--help teaches every command', () => {
    for (const args of [['--help'], ['up', '--help'], ['publish', '--help'], ['tail', '--help'], ['status', '--help'], ['host-agent', '--help'], ['audit', 'pair', '--help'], ['keys', 'rotate', '--help'], ['keys', 'new-host', '--help']]) {
      const r = vnet(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.out, /Usage: vnet/);
    }
    assert.match(vnet(['publish', '--help']).out, /RegionDeclared/);
  });

  it('up without nats-server says how to install it', async () => {
    const r = vnet(['up', '--data-dir', join(dataDir, 'x'), '--port', String(await freePort())], { NATS_SERVER_BIN: '/nonexistent/nats-server', NATS_URL: '' });
    assert.equal(r.code, 1);
    assert.match(r.err, /apt-get install -y nats-server/);
  });

  it('up refuses replicas a single server cannot hold, and bad numbers, saying why', () => {
    const r = vnet(['up', '--data-dir', join(dataDir, 'x'), '--replicas', '3'], { NATS_URL: '' });
    assert.equal(r.code, 1);
    assert.match(r.err, /--replicas 3 needs a NATS cluster/);
    const p = vnet(['up', '--data-dir', join(dataDir, 'x'), '--port', 'abc'], { NATS_URL: '' });
    assert.equal(p.code, 1);
    assert.match(p.err, /--port "abc": expected an integer 1\.\.65535/);
  });

  it('Ctrl-C during start-up leaves nothing running', async () => {
    const port = await freePort();
    const env = { ...process.env };
    delete env.NATS_URL;
    const proc = spawn(process.execPath, [VNET, 'up', '--data-dir', join(dataDir, 'early'), '--port', String(port), '--http-port', String(19000 + Math.floor(Math.random() * 900))], { cwd: ROOT, env });
    started.push(proc);
    let out = '';
    proc.stdout!.on('data', (c) => (out += c));
    for (let i = 0; i < 300 && !out.includes('nats-server'); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await interrupt(proc), 0);
    const free = await new Promise<boolean>((res) => {
      const srv = createServer().once('error', () => res(false)).listen(port, '127.0.0.1', () => srv.close(() => res(true)));
    });
    assert.ok(free, `nats-server still holds port ${port} after Ctrl-C:\n${out}`);
  });

  it('up, publish, tail, Ctrl-C, and up again changes nothing', async () => {
    const port = await freePort();
    const httpPort = 17000 + Math.floor(Math.random() * 2000);
    const nats = { NATS_URL: `nats://127.0.0.1:${port}` };
    const first = await up(port, httpPort);
    assert.match(first.out(), /gateway\s+pid \d+/);
    assert.match(first.out(), /demo\s+published 19 events/);

    // The demo reaches the log through the gateway.
    let tail = '';
    for (let i = 0; i < 100 && (tail.match(/VmPlaced/g) ?? []).length < 8; i++) {
      tail = vnet(['tail', '--from', 'start', '--no-follow'], nats).out;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((tail.match(/VmPlaced/g) ?? []).length, 8, tail);
    assert.equal((tail.match(/HostRegistered/g) ?? []).length, 4);

    // Four host agents run, each with the demo's tunnel tables, and the demo traffic flows.
    assert.match(first.out(), /host-agent-h4\s+pid \d+/);
    assert.match(first.out(), /traffic\s+8 simulated VMs/);
    let status = '';
    for (let i = 0; i < 100 && !/h4\s+active.*\s8\s+8\s/.test(status); i++) {
      status = vnet(['status', '--data-dir', dataDir], nats).out;
      await new Promise((r) => setTimeout(r, 100));
    }
    let delivered = 0;
    for (let i = 0; i < 50 && delivered === 0; i++) {
      const m = await (await fetch(`http://127.0.0.1:${httpPort + 10}/metrics`)).text();
      delivered = Number(/vnet_host_packets_total\{direction="vm_tx"[^}]*\} (\d+)/.exec(m)?.[1] ?? 0);
      if (delivered === 0) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(delivered > 0, 'demo packets were delivered to the VMs of h1');
    // The token issuer gave each demo VM a key sealed to its host, and each agent opened its two.
    for (let a = 0; a < 4; a++) {
      let keys = 0;
      for (let i = 0; i < 100 && keys < 2; i++) {
        const m = await (await fetch(`http://127.0.0.1:${httpPort + 10 + a}/metrics`)).text();
        keys = Number(/vnet_host_vm_keys\{[^}]*\} (\d+)/.exec(m)?.[1] ?? 0);
        if (keys < 2) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(keys, 2, `host agent ${a + 1} holds the keys of its 2 VMs`);
    }
    // Columns: host, status, region, underlay, VMs, table size from the log and from the agent, pairs installed.
    for (const h of ['h1', 'h2', 'h3', 'h4']) assert.match(status, new RegExp(`${h}\\s+active\\s+\\S+\\s+127\\.0\\.1\\.\\d:6081\\s+2\\s+8\\s+8\\s+\\d+\\s`), status);
    assert.match(status, /table \(agent\)\s+pairs/, 'a pairs column');

    // A live migration in the demo: blue-1 moves from h1 to h3 and its simulated VM follows;
    // the command shows the steps and ends with the blackout and the packets lost.
    const moved = vnet(['migrate', 'blue-1', '--to', 'h3', '--id', 'demo-move'], nats);
    assert.equal(moved.code, 0, moved.err);
    for (const step of ['started', 'key shared', 'target ready', 'switched', 'first packet', 'forwarding end']) assert.match(moved.out, new RegExp(step), moved.out);
    assert.match(moved.out, /completed\s+blue-1 runs on h3: blackout \d+ ms, \d+ packets lost/, moved.out);
    const listed = vnet(['migrations'], nats);
    assert.match(listed.out, /MIGRATION\s+VM\s+HOSTS\s+OUTCOME\s+BLACKOUT\s+LOST\s+FORWARDED\s+TOTAL/);
    assert.match(listed.out, /demo-move\s+blue-1\s+h1 -> h3\s+completed\s+\d+ ms\s+\d+\s+\d+/, listed.out);
    // The global view by region: blue-1 now runs in us-east (h3), no longer in eu-west.
    const east = vnet(['vms', '--region', 'us-east'], nats);
    assert.equal(east.code, 0, east.err);
    assert.match(east.out, /REGION\s+VM\s+NETWORK\s+IP\s+HOST/);
    assert.match(east.out, /us-east\s+blue-1\s+blue\s+10\.1\.0\.10\s+h3/);
    assert.doesNotMatch(vnet(['vms', '--region', 'eu-west'], nats).out, /blue-1/);
    assert.match(vnet(['images'], nats).out, /no image yet/);

    // A valid event is published and stored; a bad one is refused and nothing is written.
    const good = join(dataDir, 'good.json');
    writeFileSync(good, JSON.stringify({ type: 'RegionDeclared', schemaVersion: 1, payload: { regionId: 'ap-south', name: 'Asia Pacific South' } }));
    const ok = vnet(['publish', good], nats);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /stored\s+RegionDeclared .* at position \d+/);
    const bad = vnet(['publish', '-'], nats, JSON.stringify([
      { type: 'RegionDeclared', schemaVersion: 1, payload: { regionId: 'ok-region', name: 'fine' } },
      { type: 'NetworkCreated', schemaVersion: 1, payload: { networkId: 'n', projectId: 'p', vni: 16777216, cidr: '10.0.0.0/8' } },
    ]));
    assert.equal(bad.code, 1);
    assert.match(bad.err, /event 2 of 2/);
    assert.match(bad.err, /payload\.vni/);
    assert.match(bad.err, /16777216/);
    assert.match(bad.err, /nothing was published/);
    const after1 = vnet(['tail', '--from', 'start', '--no-follow'], nats).out;
    assert.match(after1, /ap-south/);
    assert.doesNotMatch(after1, /ok-region/, 'the valid half of a bad batch was not published');
    const lines0 = recordLines(after1);

    // The same file again: the id derives from the content, so nothing new is stored.
    const twice = vnet(['publish', good], nats);
    assert.equal(twice.code, 0, twice.err);
    assert.equal(recordLines(vnet(['tail', '--from', 'start', '--no-follow'], nats).out), lines0);

    // A record this build cannot decode is shown, and the tail goes on past it.
    const raw = await EventStore.connectJson({ servers: nats.NATS_URL });
    await raw.publishRaw('vnet.evt.junk.j1', new TextEncoder().encode('not an event'));
    await raw.publishRaw('vnet.evt.region.after-junk', new TextEncoder().encode(JSON.stringify({ type: 'RegionDeclared', schemaVersion: 1, id: '0b0e6c4e-1f7a-4c1e-9d59-6a4b0c9d2e11', causationId: null, correlationId: '0b0e6c4e-1f7a-4c1e-9d59-6a4b0c9d2e11', occurredAt: '2026-11-25T10:00:00.000Z', payload: { regionId: 'after-junk', name: 'after junk' } })));
    await raw.close();
    const withJunk = vnet(['tail', '--from', 'start', '--no-follow'], nats);
    assert.equal(withJunk.code, 0, withJunk.err);
    assert.match(withJunk.out, /junk\.j1\s+\(cannot decode/);
    assert.match(withJunk.out, /after-junk/);
    const lines = recordLines(withJunk.out);

    assert.equal(await interrupt(first.proc), 0);
    assert.match(first.out(), /stopped\s+nats-server/);

    const second = await up(port, httpPort);
    assert.match(second.out(), /streams\s+created: none; updated: none/);
    assert.match(second.out(), /demo\s+already seeded/);
    const again = vnet(['tail', '--from', 'start', '--no-follow'], nats).out;
    assert.equal(recordLines(again), lines, 'the second up wrote nothing (besides the traffic of the running demo)');
    assert.equal(await interrupt(second.proc), 0);
  });
});

/**
 * Lines of `vnet tail` output, without the pair flow's events: the demo's simulated VMs keep
 * sending, so agents keep asking for pairs (after a restart, again) — traffic, not set-up.
 */
function recordLines(tail: string): number {
  return tail
    .trim()
    .split('\n')
    .filter((l) => !/\b(PairRequested|PairAuthorized|PairDenied|PairRevoked|PairTokenIssued|TokenRejected)\b/.test(l)).length;
}
