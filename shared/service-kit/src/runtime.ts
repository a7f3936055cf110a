import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { loadConfig } from './config.js';
import { createLogger, type Logger } from './logger.js';

export type ShutdownHook = () => Promise<void> | void;

export interface ShutdownHookOptions {
  /** Shown in logs (default `hook-<n>`). */
  readonly name?: string;
  /** Overrides the runtime's hook timeout for this hook. */
  readonly timeoutMs?: number;
}

/** What `shutdown` did; `ok` is false when a hook threw or timed out. */
export interface ShutdownOutcome {
  readonly reason: string;
  readonly ok: boolean;
  readonly failed: readonly string[];
  readonly timedOut: readonly string[];
}

export interface ServiceRuntimeOptions {
  /** Service name: log field, metrics `service` label, /healthz body. */
  readonly service: string;
  /** Listen address; default VNET_HTTP_HOST, else 127.0.0.1 (set 0.0.0.0 in containers). */
  readonly httpHost?: string;
  /** Listen port; default VNET_HTTP_PORT, else 0 (ephemeral: read `url`). */
  readonly httpPort?: number;
  /** Reported in /healthz and `vnet_build_info`; default VNET_VERSION, else 0.0.0. */
  readonly version?: string;
  /** Install SIGINT/SIGTERM handlers that shut down and exit (default true). */
  readonly handleSignals?: boolean;
  /** Per-hook shutdown timeout; default VNET_SHUTDOWN_HOOK_TIMEOUT_MS, else 10 000. */
  readonly hookTimeoutMs?: number;
  /** Use this logger instead of `createLogger(service)`. */
  readonly logger?: Logger;
  /** Adds the service's own routes/plugins; runs before the server listens (fastify refuses routes after that). */
  readonly routes?: (http: FastifyInstance) => void | Promise<void>;
  /** Environment for the defaults above (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface ServiceRuntime {
  readonly service: string;
  readonly version: string;
  readonly log: Logger;
  /** Registry served at /metrics: default Node metrics, `service` label on every series. */
  readonly metrics: Registry;
  /** The started fastify instance (routes can no longer be added: use `ServiceRuntimeOptions.routes`). */
  readonly http: FastifyInstance;
  /** Base URL of the HTTP server, e.g. `http://127.0.0.1:39211`. */
  readonly url: string;
  readonly ready: boolean;
  setReady(ready: boolean, reason?: string): void;
  /** Hooks run at shutdown in reverse order of registration. */
  onShutdown(fn: ShutdownHook, opts?: ShutdownHookOptions): void;
  /** Runs the hooks and closes HTTP; idempotent (a second call returns the first's promise). */
  shutdown(reason: string): Promise<ShutdownOutcome>;
}

const PROBE_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

function baseUrl(address: string, port: number): string {
  const host = address.includes(':') ? `[${address}]` : address;
  return `http://${host}:${port}`;
}

type TimedResult = 'done' | 'timeout';

async function withTimeout(fn: ShutdownHook, ms: number): Promise<TimedResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<TimedResult>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([Promise.resolve().then(fn).then((): TimedResult => 'done'), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts the common runtime of a vnet service: logger, metrics registry and an HTTP server with
 * `GET /healthz` (liveness), `GET /readyz` (200 when ready, else 503 with the reason) and
 * `GET /metrics` (Prometheus text). The service starts not ready; call `setReady(true)` once
 * its dependencies are up. SIGINT/SIGTERM run `shutdown` and exit 0 (1 when a hook failed or
 * timed out; a second signal exits 1 at once).
 */
export async function startServiceRuntime(opts: ServiceRuntimeOptions): Promise<ServiceRuntime> {
  const { service } = opts;
  const cfg = loadConfig(
    {
      host: { env: 'VNET_HTTP_HOST', kind: 'string', default: '127.0.0.1' },
      port: { env: 'VNET_HTTP_PORT', kind: 'int', min: 0, max: 65535, default: 0 },
      version: { env: 'VNET_VERSION', kind: 'string', default: '0.0.0' },
      hookTimeoutMs: { env: 'VNET_SHUTDOWN_HOOK_TIMEOUT_MS', kind: 'int', min: 1, default: 10_000 },
    },
    opts.env,
  );
  const httpHost = opts.httpHost ?? cfg.host;
  const httpPort = opts.httpPort ?? cfg.port;
  const version = opts.version ?? cfg.version;
  const hookTimeoutMs = opts.hookTimeoutMs ?? cfg.hookTimeoutMs;
  const log = opts.logger ?? createLogger(service, { env: opts.env });
  const startedAt = process.hrtime.bigint();

  const metrics = new Registry();
  metrics.setDefaultLabels({ service });
  collectDefaultMetrics({ register: metrics });
  new Gauge({
    name: 'vnet_build_info',
    help: 'Always 1; labels carry the service version',
    labelNames: ['version'],
    registers: [metrics],
  }).set({ version }, 1);
  const readyGauge = new Gauge({
    name: 'vnet_service_ready',
    help: '1 when the service reports ready on /readyz, else 0',
    registers: [metrics],
  });

  let ready = false;
  let notReadyReason = 'starting';
  readyGauge.set(0);

  const http = Fastify({
    loggerInstance: log.child({ component: 'http' }) as FastifyBaseLogger,
    // Probes and scrapes are not logged per request; the service's own routes are.
    logController: new LogController({
      disableRequestLogging: (req) => PROBE_PATHS.has(req.url.split('?', 1)[0] ?? ''),
    }),
  });
  http.get('/healthz', async () => ({
    status: 'ok',
    service,
    version,
    uptimeSeconds: Number(process.hrtime.bigint() - startedAt) / 1e9,
  }));
  http.get('/readyz', async (_req, reply) => {
    if (ready) return { status: 'ready', service };
    return reply.code(503).send({ status: 'not_ready', service, reason: notReadyReason });
  });
  http.get('/metrics', async (_req, reply) => {
    const body = await metrics.metrics();
    return reply.header('content-type', metrics.contentType).send(body);
  });

  let url: string;
  try {
    if (opts.routes) await opts.routes(http);
    await http.listen({ host: httpHost, port: httpPort });
    const addr = http.server.address();
    if (addr === null || typeof addr === 'string') throw new Error(`unexpected listen address ${String(addr)}`);
    url = baseUrl(addr.address, addr.port);
  } catch (err) {
    await http.close().catch(() => undefined);
    throw err;
  }

  const hooks: { fn: ShutdownHook; name: string; timeoutMs: number }[] = [];
  let shuttingDown: Promise<ShutdownOutcome> | undefined;

  const setReady = (value: boolean, reason?: string): void => {
    if (shuttingDown && value) return; // never ready again once draining
    if (value !== ready) log.info({ ready: value, reason }, value ? 'ready' : 'not ready');
    ready = value;
    notReadyReason = value ? '' : (reason ?? 'not ready');
    readyGauge.set(value ? 1 : 0);
  };

  const runShutdown = async (reason: string): Promise<ShutdownOutcome> => {
    setReady(false, `shutting down: ${reason}`);
    log.info({ reason, hooks: hooks.length }, 'shutting down');
    const failed: string[] = [];
    const timedOut: string[] = [];
    for (const hook of [...hooks].reverse()) {
      const t0 = Date.now();
      try {
        const result = await withTimeout(hook.fn, hook.timeoutMs);
        if (result === 'timeout') {
          timedOut.push(hook.name);
          log.warn({ hook: hook.name, timeoutMs: hook.timeoutMs }, 'shutdown hook timed out; moving on');
        } else {
          log.debug({ hook: hook.name, ms: Date.now() - t0 }, 'shutdown hook done');
        }
      } catch (err) {
        failed.push(hook.name);
        log.error({ hook: hook.name, err }, 'shutdown hook failed');
      }
    }
    try {
      await http.close();
    } catch (err) {
      failed.push('http');
      log.error({ err }, 'closing the HTTP server failed');
    }
    const ok = failed.length === 0 && timedOut.length === 0;
    log.info({ reason, ok, failed, timedOut }, 'shutdown complete');
    removeSignalHandlers();
    return { reason, ok, failed, timedOut };
  };

  const shutdown = (reason: string): Promise<ShutdownOutcome> => {
    shuttingDown ??= runShutdown(reason);
    return shuttingDown;
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      log.warn({ signal }, 'second signal during shutdown; exiting now');
      process.exit(1);
    }
    log.info({ signal }, 'signal received');
    shutdown(signal).then(
      (outcome) => process.exit(outcome.ok ? 0 : 1),
      (err: unknown) => {
        log.error({ err }, 'shutdown crashed');
        process.exit(1);
      },
    );
  };
  const removeSignalHandlers = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  if (opts.handleSignals !== false) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  log.info({ url, version }, 'service runtime started');

  return {
    service,
    version,
    log,
    metrics,
    http,
    url,
    get ready() {
      return ready;
    },
    setReady,
    onShutdown(fn, hookOpts = {}) {
      if (shuttingDown) throw new Error('onShutdown called after shutdown started');
      hooks.push({
        fn,
        name: hookOpts.name ?? `hook-${hooks.length + 1}`,
        timeoutMs: hookOpts.timeoutMs ?? hookTimeoutMs,
      });
    },
    shutdown,
  };
}
