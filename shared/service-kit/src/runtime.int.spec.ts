import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { Counter } from 'prom-client';
import { createLogger } from './logger.js';
import { startServiceRuntime, type ServiceRuntime } from './runtime.js';

const quiet = () => createLogger('test', { level: 'silent' });
const started: ServiceRuntime[] = [];

async function start(extra: Partial<Parameters<typeof startServiceRuntime>[0]> = {}): Promise<ServiceRuntime> {
  const rt = await startServiceRuntime({
    service: 'kit-test',
    httpHost: '127.0.0.1',
    httpPort: 0,
    version: '1.2.3',
    handleSignals: false,
    logger: quiet(),
    env: {},
    ...extra,
  });
  started.push(rt);
  return rt;
}

async function get(url: string): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

after(async () => {
  await Promise.all(started.map((rt) => rt.shutdown('test end')));
});

describe('startServiceRuntime (loopback HTTP)', () => {
  it('serves /healthz, /readyz and /metrics on an ephemeral port', async () => {
    const rt = await start();
    assert.match(rt.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(new URL(rt.url).port, '0');

    const health = await get(`${rt.url}/healthz`);
    assert.equal(health.status, 200);
    const hb = JSON.parse(health.body) as Record<string, unknown>;
    assert.equal(hb.status, 'ok');
    assert.equal(hb.service, 'kit-test');
    assert.equal(hb.version, '1.2.3');
    assert.equal(typeof hb.uptimeSeconds, 'number');

    const notReady = await get(`${rt.url}/readyz`);
    assert.equal(notReady.status, 503);
    assert.deepEqual(JSON.parse(notReady.body), { status: 'not_ready', service: 'kit-test', reason: 'starting' });

    rt.setReady(false, 'waiting for JetStream');
    assert.equal(JSON.parse((await get(`${rt.url}/readyz`)).body).reason, 'waiting for JetStream');

    rt.setReady(true);
    const ready = await get(`${rt.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(JSON.parse(ready.body).status, 'ready');

    const counter = new Counter({
      name: 'vnet_test_events_total',
      help: 'events seen by the test',
      labelNames: ['type'],
      registers: [rt.metrics],
    });
    counter.inc({ type: 'VmPlaced' }, 3);
    const metrics = await get(`${rt.url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.type, /^text\/plain; version=0\.0\.4/);
    assert.match(metrics.body, /^vnet_test_events_total\{type="VmPlaced",service="kit-test"\} 3$/m);
    assert.match(metrics.body, /^vnet_service_ready\{service="kit-test"\} 1$/m);
    assert.match(metrics.body, /^vnet_build_info\{version="1\.2\.3",service="kit-test"\} 1$/m);
    assert.match(metrics.body, /^process_cpu_user_seconds_total\{service="kit-test"\} /m);
  });

  it('serves routes added through the routes option', async () => {
    const rt = await start({ routes: (http) => void http.get('/v1/ping', async () => ({ pong: true })) });
    const res = await get(`${rt.url}/v1/ping`);
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { pong: true });
  });

  it('takes host and port from the environment', async () => {
    const rt = await start({ httpHost: undefined, httpPort: undefined, env: { VNET_HTTP_HOST: '127.0.0.1', VNET_HTTP_PORT: '0' } });
    assert.equal((await get(`${rt.url}/healthz`)).status, 200);
    await assert.rejects(
      start({ httpPort: undefined, env: { VNET_HTTP_PORT: 'abc' } }),
      /VNET_HTTP_PORT="abc": expected an integer 0\.\.65535/,
    );
  });

  it('shutdown runs hooks in reverse order, goes unready, closes HTTP and is idempotent', async () => {
    const rt = await start();
    rt.setReady(true);
    const order: string[] = [];
    const readyDuringHooks: boolean[] = [];
    rt.onShutdown(() => void order.push('a'), { name: 'a' });
    rt.onShutdown(async () => {
      await new Promise((r) => setTimeout(r, 10));
      readyDuringHooks.push(rt.ready);
      order.push('b');
    }, { name: 'b' });
    rt.onShutdown(() => void order.push('c'), { name: 'c' });

    const [o1, o2] = await Promise.all([rt.shutdown('test'), rt.shutdown('again')]);
    assert.deepEqual(order, ['c', 'b', 'a']);
    assert.deepEqual(readyDuringHooks, [false]);
    assert.deepEqual(o1, { reason: 'test', ok: true, failed: [], timedOut: [] });
    assert.equal(o1, o2);
    await assert.rejects(fetch(`${rt.url}/healthz`, { signal: AbortSignal.timeout(2_000) }));
    assert.throws(() => rt.onShutdown(() => undefined), /after shutdown started/);
  });

  it('a failing hook or a hook past its timeout does not stop the others', async () => {
    const rt = await start({ hookTimeoutMs: 100 });
    const order: string[] = [];
    rt.onShutdown(() => void order.push('first'), { name: 'first' });
    rt.onShutdown(() => new Promise<void>(() => undefined), { name: 'hangs' });
    rt.onShutdown(() => {
      throw new Error('boom');
    }, { name: 'throws' });
    rt.onShutdown(() => void order.push('last'), { name: 'last' });
    const t0 = Date.now();
    const outcome = await rt.shutdown('test');
    assert.ok(Date.now() - t0 < 2_000);
    assert.deepEqual(order, ['last', 'first']);
    assert.deepEqual(outcome, { reason: 'test', ok: false, failed: ['throws'], timedOut: ['hangs'] });
  });
});

describe('signal handling (child process)', () => {
  const fixture = fileURLToPath(new URL('./__fixtures__/signal-child.ts', import.meta.url));

  async function runChild(signal: NodeJS.Signals, env: Record<string, string> = {}) {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    let out = '';
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const startedLine = new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /FIXTURE started (\S+)/.exec(out);
        if (m?.[1]) resolve(m[1]);
      });
      child.once('exit', () => reject(new Error(`child exited before start: ${err}`)));
    });
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      const url = await startedLine;
      assert.equal((await get(`${url}/readyz`)).status, 200);
      child.kill(signal);
      const [code] = await exited;
      const markers = out.split('\n').filter((l) => l.startsWith('FIXTURE hook'));
      return { code, markers };
    } finally {
      clearTimeout(killer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }

  it('SIGTERM runs hooks in reverse order and exits 0', async () => {
    const r = await runChild('SIGTERM');
    assert.deepEqual(r.markers, ['FIXTURE hook last-registered', 'FIXTURE hook first-registered']);
    assert.equal(r.code, 0);
  });

  it('SIGINT with a throwing hook still runs the rest and exits 1', async () => {
    const r = await runChild('SIGINT', { FIXTURE_FAIL: '1' });
    assert.deepEqual(r.markers, ['FIXTURE hook last-registered', 'FIXTURE hook first-registered']);
    assert.equal(r.code, 1);
  });
});
