/** Starts the real gateway process for tests, and stops it by pid. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '@vnet/natsd';

const ROOT = join(import.meta.dirname, '../../..');

export interface GatewayProcess {
  readonly proc: ChildProcess;
  readonly health: string;
  /** SIGTERM (graceful) or SIGKILL (a crash); SIGKILL anyway after 10 s. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

export async function until<T>(probe: () => Promise<T | undefined>, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startGateway(natsUrl: string): Promise<GatewayProcess> {
  const port = await freePort();
  const health = `http://127.0.0.1:${port}`;
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'services/gateway/src/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, NATS_URL: natsUrl, VNET_HTTP_PORT: String(port), VNET_LOG_LEVEL: 'warn' },
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
    await until(async () => ((await fetch(`${health}/readyz`).catch(() => undefined))?.ok ? true : undefined), 'gateway ready', 30_000);
  } catch (e) {
    await stop('SIGKILL');
    throw e;
  }
  return { proc, health, stop };
}
