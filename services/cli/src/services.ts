/**
 * The services `vnet up` runs, each as its own process (as each would run in its own
 * container). A service listed here must have `services/<name>/src/main.ts`.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (services/cli/src → ../../..). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface ServiceDef {
  readonly name: string;
  readonly entry: string;
  /** Offset from the base HTTP port. */
  readonly portOffset: number;
}

const ALL: readonly Omit<ServiceDef, 'entry'>[] = [
  { name: 'gateway', portOffset: 1 },
  { name: 'mapping', portOffset: 2 },
  { name: 'authorization', portOffset: 3 },
  { name: 'token-issuer', portOffset: 4 },
  { name: 'migration', portOffset: 5 },
  { name: 'resource-manager', portOffset: 6 },
  { name: 'image-replication', portOffset: 7 },
];

/** The services whose entry point exists in this checkout. */
export function availableServices(): ServiceDef[] {
  return ALL.map((s) => ({ ...s, entry: join(REPO_ROOT, 'services', s.name, 'src', 'main.ts') })).filter((s) => existsSync(s.entry));
}

/** The host agent's entry point (one process per host, started with VNET_HOST_ID). */
export const HOST_AGENT_ENTRY = join(REPO_ROOT, 'services', 'host-agent', 'src', 'main.ts');
