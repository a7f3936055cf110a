/**
 * `vnet up`: the whole system on one machine. Starts nats-server with JetStream in a data
 * folder (unless NATS_URL points at one), applies the streams, starts every service as its
 * own process, seeds the demo topology, and stops all of it on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import * as E from 'fp-ts/lib/Either.js';
import { startNatsServer, NatsServerMissing, type RunningNatsServer } from '@vnet/natsd';
import { describeAppendError } from '@vnet/eventstore';
import { parseKeyPair } from '@vnet/tokens';
import { vnetTopology } from '@vnet/topology';
import { CliError, action, connectStore } from '../connect';
import { DEMO_FIRST_STREAM, DEMO_HOSTS, demoEvents } from '../demo';
import { startDemoTraffic, type DemoTraffic } from '../traffic';
import { HOST_AGENT_ENTRY, REPO_ROOT, availableServices } from '../services';

interface UpOptions {
  hosts?: string;
  dataDir: string;
  port: string;
  httpPort: string;
  demo: boolean;
  replicas: string;
}

function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, host, () => s.close(() => res(true)));
  });
}

function stopChild(c: ChildProcess, ms = 10_000): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const t = setTimeout(() => c.kill('SIGKILL'), ms);
    c.once('exit', () => (clearTimeout(t), res()));
    c.kill('SIGTERM');
  });
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description(
      'Run vnet locally: nats-server with JetStream (in --data-dir, unless NATS_URL is set), ' +
        'the streams, every service as its own process, and a demo topology ' +
        '(2 regions, 4 hosts, 2 networks, 8 VMs). Ctrl-C stops everything cleanly. ' +
        'Running it again on the same data changes nothing.',
    )
    .option('--data-dir <dir>', 'where JetStream data and service logs live', process.env.VNET_HOME ?? '.vnet')
    .option('--port <port>', 'NATS client port when vnet starts nats-server', '4222')
    .option('--http-port <port>', 'first HTTP port: services get the next ones (health, metrics)', '7100')
    .option('--replicas <n>', 'stream replicas (3 on a three-node cluster)', '1')
    .option('--no-demo', 'do not seed the demo topology (nor start its host agents and traffic)')
    .option('--hosts <ids>', 'host agents to run, comma-separated (default: the demo hosts h1..h4)')
    .action(
      action(async (opts: UpOptions) => {
        const port = intOption('--port', opts.port, 1, 65535);
        const base = intOption('--http-port', opts.httpPort, 1, 65000);
        const replicas = intOption('--replicas', opts.replicas, 1, 5);
        if (!process.env.NATS_URL && replicas > 1) {
          throw new CliError(
            `--replicas ${replicas} needs a NATS cluster of at least ${replicas} nodes, not the single server vnet starts: ` +
              'run infra/nats/cluster (see infra/nats/README.md) and set NATS_URL to its servers',
          );
        }
        const dataDir = resolve(opts.dataDir);
        const logDir = join(dataDir, 'logs');
        mkdirSync(logDir, { recursive: true });
        const children: Array<{ name: string; proc: ChildProcess }> = [];
        let nats: RunningNatsServer | undefined;
        let store: Awaited<ReturnType<typeof connectStore>> | undefined;
        let traffic: DemoTraffic | undefined;
        // The start-up step in flight: a Ctrl-C waits for it, so what it starts is stopped too.
        let step: Promise<unknown> = Promise.resolve();
        let stopping = false;
        const shutdown = async (code: number, message?: string) => {
          if (stopping) return;
          stopping = true;
          if (message) process.stderr.write(`vnet: ${message}\n`);
          process.stdout.write('\nstopping…\n');
          await step.catch(() => undefined);
          await traffic?.stop();
          await Promise.all(children.map(async (c) => (await stopChild(c.proc), process.stdout.write(`stopped            ${c.name}\n`))));
          await store?.close().catch(() => undefined);
          if (nats) {
            await nats.stop();
            process.stdout.write('stopped            nats-server\n');
          }
          process.exit(code);
        };
        process.on('exit', () => {
          // Last resort if `vnet up` itself dies: leave no orphan behind.
          for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
          if (nats && nats.process.exitCode === null) nats.process.kill('SIGKILL');
        });
        process.on('SIGINT', () => void shutdown(0));
        process.on('SIGTERM', () => void shutdown(0));
        const run = <T>(p: Promise<T>): Promise<T> => ((step = p), p);
        try {
          let url = process.env.NATS_URL;
          if (!url) {
            if (!(await portFree(port))) {
              throw new CliError(`port ${port} is already in use (another nats-server or \`vnet up\`?). Use --port, or set NATS_URL to use that server.`);
            }
            try {
              nats = await run(startNatsServer({ storeDir: join(dataDir, 'nats'), port, logFile: join(logDir, 'nats-server.log'), detached: true }));
            } catch (e) {
              if (e instanceof NatsServerMissing) throw new CliError(e.message);
              throw new CliError(`nats-server did not start: ${(e as Error).message} (see ${join(logDir, 'nats-server.log')})`);
            }
            url = nats.url;
            process.stdout.write(`nats-server        ${url}  (JetStream data in ${join(dataDir, 'nats')}, monitoring http://127.0.0.1:${nats.monitorPort})\n`);
          } else {
            process.stdout.write(`nats-server        ${url}  (from NATS_URL; not started by vnet)\n`);
          }
          store = await run(connectStore(url, 'vnet-up'));
          const report = await run(store.applyTopology(vnetTopology(replicas)));
          process.stdout.write(
            `streams            created: ${report.created.join(', ') || 'none'}; updated: ${report.updated.join(', ') || 'none'}; unchanged: ${report.unchanged.length}\n`,
          );
          const started: Record<string, string> = {};
          /** Starts one process (a service or a host agent) and waits until it is ready. */
          const startProcess = async (name: string, entry: string, httpPort: number, env: Record<string, string> = {}) => {
            const logFile = join(logDir, `${name}.log`);
            const proc = spawn(process.execPath, ['--import', 'tsx', entry], {
              cwd: REPO_ROOT,
              stdio: ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')],
              // Own process group: Ctrl-C reaches only `vnet up`, which stops services before nats-server.
              detached: true,
              env: { ...process.env, NATS_URL: url, VNET_HTTP_PORT: String(httpPort), VNET_HTTP_HOST: '127.0.0.1', VNET_REPLICAS: String(replicas), VNET_DATA_DIR: resolve(dataDir), ...env },
            });
            children.push({ name, proc });
            proc.on('exit', (code, sig) => {
              if (!stopping) process.stderr.write(`warning: ${name} exited (${sig ?? `code ${code}`}); see ${logFile}\n`);
            });
            await run(waitHealthy(`http://127.0.0.1:${httpPort}/readyz`, proc, name, logFile));
            started[name] = `http://127.0.0.1:${httpPort}`;
            process.stdout.write(`${name.padEnd(18)} pid ${proc.pid}  health http://127.0.0.1:${httpPort}/healthz  metrics http://127.0.0.1:${httpPort}/metrics  log ${logFile}\n`);
          };
          for (const svc of availableServices()) {
            if (stopping) return;
            await startProcess(svc.name, svc.entry, base + svc.portOffset);
          }
          if (opts.demo) await run(seedDemo(store, join(dataDir, 'keys')));
          const hosts = opts.hosts ? opts.hosts.split(',').filter(Boolean) : opts.demo ? DEMO_HOSTS : [];
          // Agents accept pair tokens sealed by this token issuer only (its key pair is made on its first start).
          const issuerKeyFile = join(dataDir, 'keys', 'token-issuer.json');
          const issuerPublicKey = existsSync(issuerKeyFile) ? parseKeyPair(readFileSync(issuerKeyFile, 'utf8'), issuerKeyFile).publicKey : undefined;
          for (const [i, hostId] of hosts.entries()) {
            if (stopping) return;
            const keyFile = join(dataDir, 'keys', `${hostId}.json`);
            await startProcess(`host-agent-${hostId}`, HOST_AGENT_ENTRY, base + 10 + i, {
              VNET_HOST_ID: hostId,
              ...(existsSync(keyFile) ? { VNET_HOST_KEY_FILE: resolve(keyFile) } : {}),
              ...(issuerPublicKey ? { VNET_ISSUER_PUBLIC_KEY: issuerPublicKey } : {}),
            });
          }
          writeFileSync(join(dataDir, 'run.json'), JSON.stringify({ nats: url, processes: started }, null, 2));
          if (opts.demo && hosts.length > 0) {
            traffic = await run(startDemoTraffic(started));
            process.stdout.write(`traffic            ${traffic.describe()}\n`);
          }
          process.stdout.write(`\nvnet is up. Try: NATS_URL=${url} npx vnet status    or    npx vnet tail    (Ctrl-C here stops everything)\n`);
        } catch (e) {
          await shutdown(1, e instanceof CliError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e));
        }
      }),
    );
}

function intOption(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`${name} ${JSON.stringify(value)}: expected an integer ${min}..${max}`);
  return n;
}

async function waitHealthy(url: string, proc: ChildProcess, name: string, log: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (proc.exitCode !== null) throw new CliError(`${name} exited with code ${proc.exitCode} while starting; see ${log}`);
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new CliError(`${name} was not ready after ${timeoutMs} ms; see ${log}`);
}

async function seedDemo(store: Awaited<ReturnType<typeof connectStore>>, keysDir: string): Promise<void> {
  if ((await store.currentRevision(DEMO_FIRST_STREAM)) > 0) {
    process.stdout.write('demo               already seeded (nothing published)\n');
    return;
  }
  const events = demoEvents(keysDir);
  const enc = new TextEncoder();
  for (const ev of events) {
    const r = await store.publishRaw(`vnet.ext.${String(ev.type)}`, enc.encode(JSON.stringify(ev)), { msgId: String(ev.id) });
    if (E.isLeft(r)) throw new CliError(`seeding the demo failed: ${describeAppendError(r.left)}`);
  }
  process.stdout.write(`demo               published ${events.length} events (2 regions, 4 hosts, 2 networks, 8 VMs, a project quota) through the gateway\n`);
}
