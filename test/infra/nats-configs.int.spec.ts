// Starts the checked-in nats-server configurations (infra/nats) for real: single.conf and the
// three-node cluster. The files use fixed ports, so each run copies them to a temp dir and
// rewrites every port to a free one first. All waits are bounded; every process started here
// is stopped by pid (SIGTERM, then SIGKILL after 5 s) and every temp dir removed.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import * as E from 'fp-ts/lib/Either.js';
import { EventStore, isRetryable, jsonCodec } from '@vnet/eventstore';
import { vnetTopology } from '@vnet/topology';

const NATS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../infra/nats');
const MAX_PAYLOAD = 8 * 1024 * 1024;

function findNatsServer(): string | undefined {
  const candidates = process.env.NATS_SERVER_BIN
    ? [process.env.NATS_SERVER_BIN]
    : ['nats-server', '/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];
  return candidates.find((bin) => spawnSync(bin, ['--version'], { timeout: 5_000 }).status === 0);
}
const BIN = findNatsServer();
const skip = BIN ? false : 'nats-server not installed (apt-get install nats-server, or set NATS_SERVER_BIN)';

/** `count` distinct free loopback ports (all held open until every one is chosen). */
async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const srv = createServer();
      servers.push(srv);
      ports.push(
        await new Promise<number>((res, rej) => {
          srv.once('error', rej);
          srv.listen(0, '127.0.0.1', () => {
            const a = srv.address();
            if (a && typeof a === 'object') res(a.port);
            else rej(new Error('no port'));
          });
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((res) => s.close(() => res()))));
  }
}

/** Rewrites every `127.0.0.1:<port>` in `text` through `map`; fails on a port it does not know. */
function rewritePorts(text: string, map: ReadonlyMap<number, number>): string {
  return text.replace(/127\.0\.0\.1:(\d+)/g, (_m, p: string) => {
    const to = map.get(Number(p));
    assert.ok(to !== undefined, `unexpected fixed port ${p} in config`);
    return `127.0.0.1:${to}`;
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* plain-text answer, e.g. "filtered response: not leader" */
  }
  return { status: res.status, body };
}

interface Running {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly log: () => string;
}

const running: Running[] = [];
const tempDirs: string[] = [];

function startServer(name: string, conf: string, env: Record<string, string>): Running {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VNET_NATS_DATA')));
  const proc = spawn(BIN!, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...clean, ...env } });
  let tail = '';
  const keep = (c: Buffer) => (tail = (tail + c.toString()).slice(-8_000));
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const r: Running = { name, proc, log: () => tail };
  running.push(r);
  return r;
}

async function stop(r: Running): Promise<void> {
  const { proc } = r;
  if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
  const exited = new Promise<void>((res) => proc.once('exit', () => res()));
  process.kill(proc.pid, 'SIGTERM');
  const killer = setTimeout(() => {
    if (proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) process.kill(proc.pid, 'SIGKILL');
  }, 5_000);
  await exited;
  clearTimeout(killer);
}

/** Polls `probe` until it returns a value, the process dies, or `timeoutMs` passes. */
async function waitFor<T>(what: string, servers: Running[], timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    for (const s of servers) {
      if (s.proc.exitCode !== null || s.proc.signalCode !== null) {
        assert.fail(`${s.name} exited (${s.proc.exitCode ?? s.proc.signalCode}) while waiting for ${what}:\n${s.log()}`);
      }
    }
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = String(err);
    }
    await sleep(150);
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting for ${what} (${last})\n${servers.map((s) => `--- ${s.name}\n${s.log()}`).join('\n')}`);
}

function makeTemp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Starts the three cluster configs on free ports and waits for a JetStream meta leader. */
async function startCluster() {
  const dir = makeTemp('vnet-nats-cluster-');
  const ports = await freePorts(9);
  const map = new Map<number, number>();
  for (let i = 0; i < 3; i++) {
    map.set(4231 + i, ports[i]!);
    map.set(6231 + i, ports[3 + i]!);
    map.set(8231 + i, ports[6 + i]!);
  }
  mkdirSync(join(dir, 'cluster'));
  const nodes: Running[] = [];
  for (let i = 1; i <= 3; i++) {
    const conf = join(dir, 'cluster', `n${i}.conf`);
    writeFileSync(conf, rewritePorts(readFileSync(join(NATS_DIR, 'cluster', `n${i}.conf`), 'utf8'), map));
    nodes.push(startServer(`n${i}`, conf, { [`VNET_NATS_DATA_N${i}`]: join(dir, 'data', `n${i}`) }));
  }
  const monitors = [1, 2, 3].map((i) => `http://127.0.0.1:${map.get(8230 + i)}`);

  for (const m of monitors) {
    await waitFor(`${m} healthz`, nodes, 15_000, async () => ((await getJson(`${m}/healthz?js-enabled-only=true`)).status === 200 ? true : undefined));
  }
  const leader = await waitFor('a meta leader all three nodes agree on', nodes, 20_000, async () => {
    const metas = await Promise.all(monitors.map(async (m) => (await getJson(`${m}/jsz`)).body?.meta_cluster));
    const leaders = new Set(metas.map((mc) => mc?.leader));
    const [only] = [...leaders];
    return leaders.size === 1 && typeof only === 'string' && only !== '' ? only : undefined;
  });
  return { dir, map, nodes, monitors, leader, urls: [1, 2, 3].map((i) => `nats://127.0.0.1:${map.get(4230 + i)}`) };
}

after(async () => {
  await Promise.all(running.map(stop));
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

describe('infra/nats configurations (nats-server 2.9)', { skip }, () => {
  it('every file is valid and needs its store-dir variable', () => {
    const files = ['single.conf', 'cluster/n1.conf', 'cluster/n2.conf', 'cluster/n3.conf'];
    const vars = ['VNET_NATS_DATA', 'VNET_NATS_DATA_N1', 'VNET_NATS_DATA_N2', 'VNET_NATS_DATA_N3'];
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VNET_NATS_DATA')));
    files.forEach((f, i) => {
      const conf = join(NATS_DIR, f);
      const missing = spawnSync(BIN!, ['-c', conf, '-t'], { env: clean, encoding: 'utf8', timeout: 10_000 });
      assert.notEqual(missing.status, 0, `${f} should not load without ${vars[i]}`);
      assert.match(missing.stderr + missing.stdout, new RegExp(`${vars[i]}'.*can not be found`));
      const ok = spawnSync(BIN!, ['-c', conf, '-t'], { env: { ...clean, [vars[i]!]: '/tmp/unused' }, encoding: 'utf8', timeout: 10_000 });
      assert.equal(ok.status, 0, `${f}: ${ok.stderr}`);
    });
  });

  it('single.conf starts with JetStream in $VNET_NATS_DATA', { timeout: 30_000 }, async () => {
    const dir = makeTemp('vnet-nats-single-');
    const [client, monitor] = (await freePorts(2)) as [number, number];
    const conf = join(dir, 'single.conf');
    writeFileSync(conf, rewritePorts(readFileSync(join(NATS_DIR, 'single.conf'), 'utf8'), new Map([[4222, client], [8222, monitor]])));
    const data = join(dir, 'data');
    const srv = startServer('single', conf, { VNET_NATS_DATA: data });

    const base = `http://127.0.0.1:${monitor}`;
    await waitFor('JetStream health', [srv], 15_000, async () => {
      const r = await getJson(`${base}/healthz?js-enabled-only=true`);
      return r.status === 200 && r.body?.status === 'ok' ? true : undefined;
    });
    const varz = (await getJson(`${base}/varz`)).body;
    assert.equal(varz.max_payload, MAX_PAYLOAD);
    assert.equal(varz.port, client);
    assert.equal(varz.host, '127.0.0.1');
    const jsz = (await getJson(`${base}/jsz`)).body;
    assert.equal(jsz.config.store_dir, join(data, 'jetstream'));

    await stop(srv);
    // 2.9 exits with status 1 on SIGTERM (0 on SIGINT); what matters is an orderly stop, not SIGKILL.
    assert.equal(srv.proc.signalCode, null, srv.log());
    assert.match(srv.log(), /Server Exiting/);
  });

  it('the three cluster nodes form a cluster and elect a JetStream meta leader', { timeout: 60_000 }, async () => {
    const { dir, map, nodes, monitors, leader } = await startCluster();
    assert.ok(['n1', 'n2', 'n3'].includes(leader), `leader ${leader}`);

    for (const [i, m] of monitors.entries()) {
      const varz = (await getJson(`${m}/varz`)).body;
      assert.equal(varz.server_name, `n${i + 1}`);
      assert.equal(varz.max_payload, MAX_PAYLOAD);
      assert.equal(varz.cluster?.name, 'vnet');
      const jsz = (await getJson(`${m}/jsz`)).body;
      assert.equal(jsz.config.store_dir, join(dir, 'data', `n${i + 1}`, 'jetstream'));
      assert.equal(jsz.meta_cluster.cluster_size, 3);
    }
    const routez = (await getJson(`${monitors[0]}/routez`)).body;
    assert.equal(routez.num_routes, 2);

    await Promise.all(nodes.map(stop));
  });

  it('R3 streams on the cluster: the stream leader killed, appends go on and no acknowledged event is lost', { timeout: 120_000 }, async () => {
    const { nodes, monitors, urls } = await startCluster();
    const store = await EventStore.connect({ servers: urls, name: 'r3-test', timeoutMs: 5_000 }, jsonCodec);
    try {
      const report = await store.applyTopology(vnetTopology(3));
      assert.ok(report.created.includes('stream VNET_EVENTS'));
      const acked: string[] = [];
      const append = async (i: number) => {
        const ev = { id: randomUUID(), type: 'Tick', n: i };
        for (let attempt = 0; attempt < 100; attempt++) {
          const r = await store.appendToStream(`tick.s${i % 10}`, [ev]);
          if (E.isRight(r)) return void acked.push(ev.id);
          if (!isRetryable(r.left)) assert.fail(`append ${i}: ${JSON.stringify(r.left)}`);
          await sleep(100);
        }
        assert.fail(`append ${i} never succeeded`);
      };
      for (let i = 0; i < 200; i++) await append(i);
      // Kill the node that leads VNET_EVENTS (the worst one to lose).
      let leaderName: string | undefined;
      for (const m of monitors) {
        const details = (await getJson(`${m}/jsz?streams=true`)).body?.account_details ?? [];
        for (const a of details) for (const st of a.stream_detail ?? []) if (st.name === 'VNET_EVENTS') leaderName ??= st.cluster?.leader;
      }
      const victim = nodes.find((n) => n.name === leaderName) ?? nodes[0]!;
      victim.proc.kill('SIGKILL');
      await new Promise((r) => victim.proc.once('exit', r));
      for (let i = 200; i < 400; i++) await append(i);
      const stored = new Set<string>();
      for await (const r of store.readAll()) stored.add(r.event.id);
      assert.equal(acked.length, 400);
      assert.deepEqual(acked.filter((id) => !stored.has(id)), [], `lost after killing ${victim.name}`);
      assert.equal(stored.size, 400, 'and none stored twice');
    } finally {
      await store.close();
      await Promise.all(nodes.map(stop));
    }
  });
});
