/**
 * Test helper: runs a vnet service as the real process (`services/<name>/src/main.ts` through
 * tsx) against a test nats-server, waits until it is ready, and stops it by pid: SIGTERM for
 * a graceful stop, SIGKILL for a crash. Used by every service's `*.int.spec.ts`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '@vnet/natsd';

/** The repository root (shared/eventstore/src/testing → ../../../..). */
const ROOT = join(import.meta.dirname, '../../../..');

/** A running service process. */
export interface ServiceProcess {
  readonly proc: ChildProcess;
  /** Base URL of its health/metrics server (`/healthz`, `/readyz`, `/metrics`). */
  readonly health: string;
  /** SIGTERM (graceful) or SIGKILL (a crash); SIGKILL anyway after 10 s. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

/** Polls `probe` every `everyMs` (50) until it gives a value; throws after `ms`. */
export async function until<T>(probe: () => Promise<T | undefined>, what: string, ms = 15_000, everyMs = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Options of {@link startService}. */
export interface StartServiceOptions {
  /** Extra environment (NATS_URL, VNET_HTTP_PORT and VNET_LOG_LEVEL=warn are set already). */
  readonly env?: Readonly<Record<string, string>>;
  /** How long to wait for `/readyz` (default 30 s). */
  readonly readyWithinMs?: number;
}

/** Starts `services/<name>/src/main.ts` on a free HTTP port and waits until `/readyz` says ok. */
export async function startService(name: string, natsUrl: string, opts: StartServiceOptions = {}): Promise<ServiceProcess> {
  const port = await freePort();
  const health = `http://127.0.0.1:${port}`;
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'services', name, 'src/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, NATS_URL: natsUrl, VNET_HTTP_PORT: String(port), VNET_LOG_LEVEL: 'warn', ...opts.env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  try {
    await until(
      async () => {
        if (proc.exitCode !== null) throw new Error(`${name} exited with code ${proc.exitCode} before it was ready`);
        return (await fetch(`${health}/readyz`).catch(() => undefined))?.ok ? true : undefined;
      },
      `${name} ready`,
      opts.readyWithinMs ?? 30_000,
    );
  } catch (e) {
    await stop('SIGKILL');
    throw e;
  }
  return { proc, health, stop };
}
