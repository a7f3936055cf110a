/**
 * Starts and stops a local `nats-server` with JetStream: for `vnet up`, integration tests and
 * benchmarks. It only spawns a process and waits for its monitoring endpoint; it never speaks
 * the NATS protocol (that is `@vnet/eventstore`'s job).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where the binary is looked for when `NATS_SERVER_BIN` is not set. */
const CANDIDATES = ['nats-server', '/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

/** Raised when no nats-server binary can be found; the message says how to install one. */
export class NatsServerMissing extends Error {
  constructor() {
    super(
      'nats-server was not found. Install it (Debian/Ubuntu: `apt-get install -y nats-server`), ' +
        'set NATS_SERVER_BIN to its path, or point NATS_URL at a running server with JetStream.',
    );
    this.name = 'NatsServerMissing';
  }
}

/** Finds the nats-server binary, or undefined. */
export function findNatsServer(): string | undefined {
  const list = process.env.NATS_SERVER_BIN ? [process.env.NATS_SERVER_BIN] : CANDIDATES;
  for (const bin of list) {
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return bin;
  }
  return undefined;
}

/** Asks the kernel for a free TCP port on the given address. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface NatsServerOptions {
  /** JetStream store directory; a fresh temp dir (removed on stop) when omitted. */
  readonly storeDir?: string;
  /** Client port; a free one when omitted. */
  readonly port?: number;
  readonly host?: string;
  /** Largest message the server accepts, in bytes (default 8 MiB, so the gateway can reject large events itself). */
  readonly maxPayload?: number;
  /** Extra lines appended to the generated configuration. */
  readonly extraConfig?: string;
  /** How long to wait for the server to be ready (ms). */
  readonly readyTimeoutMs?: number;
  /** Where the server's own log goes; discarded when omitted. */
  readonly logFile?: string;
  /** Run in its own process group, so a terminal's Ctrl-C reaches only the parent, which
   * then stops the server last, after the services that use it. */
  readonly detached?: boolean;
}

/** A running nats-server started by this process. */
export interface RunningNatsServer {
  readonly url: string;
  readonly port: number;
  readonly monitorPort: number;
  readonly storeDir: string;
  readonly pid: number;
  readonly process: ChildProcess;
  /** Stops the server (SIGTERM, then SIGKILL after a grace period) and removes a temp store. */
  stop(): Promise<void>;
}

/** The server exited before it was ready (`output`: the end of what it printed). */
class ExitedEarly extends Error {
  constructor(readonly code: number, readonly output: string) {
    super(`nats-server exited early with code ${code}${output ? `: ${output}` : ''}`);
  }
}

async function waitReady(monitorPort: number, child: ChildProcess, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new ExitedEarly(child.exitCode, output().trim().split('\n').slice(-3).join(' | '));
    try {
      const res = await fetch(`http://127.0.0.1:${monitorPort}/healthz?js-enabled-only=true`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nats-server not ready after ${timeoutMs} ms`);
}

/**
 * Starts nats-server with JetStream and waits until it answers its health check. With ports
 * it chose itself, a server that exits at once (a port taken between choosing and binding,
 * by another process starting at the same moment) is started again on fresh ports, at most
 * three times.
 */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<RunningNatsServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (e) {
      if (!(e instanceof ExitedEarly) || opts.port !== undefined || attempt >= 3) throw e;
    }
  }
}

async function startOnce(opts: NatsServerOptions): Promise<RunningNatsServer> {
  const bin = findNatsServer();
  if (!bin) throw new NatsServerMissing();
  const temp = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? mkdtempSync(join(tmpdir(), 'vnet-nats-'));
  mkdirSync(storeDir, { recursive: true });
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(host));
  const monitorPort = await freePort('127.0.0.1');
  const conf = [
    `listen: "${host}:${port}"`,
    `http: "127.0.0.1:${monitorPort}"`,
    `max_payload: ${opts.maxPayload ?? 8 * 1024 * 1024}`,
    `jetstream { store_dir: "${storeDir}" }`,
    opts.extraConfig ?? '',
  ].join('\n');
  const confFile = join(storeDir, `nats-${port}.conf`);
  writeFileSync(confFile, conf);
  const child = spawn(bin, ['-c', confFile, ...(opts.logFile ? ['-l', opts.logFile] : [])], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: opts.detached ?? false,
  });
  // What it prints goes nowhere but the last 2 KB kept for an error message (read all along,
  // so the pipe never fills and blocks the server).
  let output = '';
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString('utf8')).slice(-2048)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    if (temp) rmSync(storeDir, { recursive: true, force: true });
  };
  try {
    await waitReady(monitorPort, child, opts.readyTimeoutMs ?? 15000, () => output);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: `nats://${host}:${port}`, port, monitorPort, storeDir, pid: child.pid ?? -1, process: child, stop };
}
