/**
 * Helpers for the host agent's tests against real kernel networking (network namespaces,
 * TUN devices, packet capture): bounded command runs, a control plane (nats-server, gateway,
 * mapping, authorization, token issuer, host agents with their key pairs, all as processes)
 * with a given set of hosts/networks/VMs, and a VM made of a network namespace whose TUN
 * device is bridged to the agent's VM port by socat. Tokens are on, as in production: every
 * packet between hosts goes through the pair flow.
 *
 * Rules kept here: underlay and VM ports are on loopback only; virtual addresses (10.x) exist
 * only on TUN devices inside namespaces this test creates (the TUN is created in the root
 * namespace WITHOUT an address, moved into the namespace, and only there given one); every
 * process started is stopped by pid and every namespace deleted.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import { domainEventCodec, type DomainEvent, type EventOf } from '@vnet/events';
import type { EventStore, StorableEvent } from '@vnet/eventstore';
import { startService, startTestNats, until, type ServiceProcess, type TestNats } from '@vnet/eventstore/testing';
import { freePort } from '@vnet/natsd';
import { generateHostKeyPair, parseKeyPair } from '@vnet/tokens';
import { vnetTopology } from '@vnet/topology';

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command (no shell) with a timeout; never throws (code -1 if it could not run or timed out). */
export function run(cmd: string, args: readonly string[], timeoutMs = 5000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && code === -1 ? String(err.message) : '') });
    });
  });
}

/** Runs a command that must succeed. */
export async function must(cmd: string, args: readonly string[], timeoutMs = 5000): Promise<RunResult> {
  const r = await run(cmd, args, timeoutMs);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r;
}

/** True when `cmd` is on the PATH. */
export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { timeout: 2000 }).status === 0;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stops a child process by pid: SIGTERM, SIGKILL after `graceMs`. */
export async function stopChild(proc: ChildProcess | undefined, graceMs = 2000): Promise<void> {
  if (!proc || proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  let kill: NodeJS.Timeout | undefined;
  let giveUp: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve) => {
    proc.once('exit', () => resolve());
    kill = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    giveUp = setTimeout(resolve, graceMs + 1000);
    proc.kill('SIGTERM');
  });
  clearTimeout(kill);
  clearTimeout(giveUp);
}

// ---------------------------------------------------------------- control plane

export interface PlaneHost {
  readonly hostId: string;
  /** Loopback address of the host's underlay (127.0.1.x). */
  readonly addr: string;
}
export interface PlaneNetwork {
  readonly networkId: string;
  readonly vni: number;
  readonly cidr: string;
}
export interface PlaneVm {
  readonly vmId: string;
  readonly networkId: string;
  readonly vni: number;
  readonly ip: string;
  readonly hostId: string;
}
export interface AgentTables {
  vms: Array<{ vmId: string; port: number }>;
  vmKeyIds: Record<string, number[]>;
  tableSize: number;
  servedVnis: number[];
  /** VNI → virtual IP → where that VM runs. */
  tunnels: Record<string, Record<string, { vmId: string; hostId: string; underlay: string }>>;
}

export interface Plane {
  readonly nats: TestNats;
  /** hostId → its underlay `host:port`. */
  readonly underlay: ReadonlyMap<string, string>;
  tables(hostId: string): Promise<AgentTables>;
  /** A host agent's Prometheus counter `vnet_host_<name>_total{<label>="<value>"}`, or with label '' one without labels (0 when absent). */
  counter(hostId: string, name: 'packets' | 'drops' | 'pair_events' | 'pair_packets_released', label: string): Promise<number>;
  /** The loopback `host:port` of a VM's port on its agent. */
  vmPort(vm: PlaneVm): Promise<string>;
  /** Publishes an external event through the gateway, as an external system would. */
  publish(type: string, payload: Record<string, unknown>, schemaVersion?: number): Promise<void>;
  /** A host agent's process (to stop it, as a dying host would). */
  agent(hostId: string): ServiceProcess;
  stop(): Promise<void>;
}

/**
 * Starts nats-server, gateway, mapping, authorization, the token issuer (and, when asked,
 * the migration service) and one host agent
 * per host (each with its own X25519 key pair in a temporary folder); publishes the region,
 * the hosts (underlay on a free port of their 127.0.1.x address, public key), the networks
 * and the VMs as an external system would, and waits until every agent has programmed its
 * tables (`tableSize` = the VMs of the VNIs it serves) and holds the keys of its VMs.
 * On failure everything started is stopped.
 */
export async function startPlane(
  name: string,
  hosts: readonly PlaneHost[],
  networks: readonly PlaneNetwork[],
  vms: readonly PlaneVm[],
  opts: { readonly tokenLifetimeS?: number; readonly migration?: { readonly graceMs: number; readonly prepareTimeoutMs: number } } = {},
): Promise<Plane> {
  const services: ServiceProcess[] = [];
  const agents = new Map<string, ServiceProcess>();
  const underlay = new Map<string, string>();
  const dir = mkdtempSync(join(tmpdir(), `vnet-${name}-`));
  const nats = await startTestNats(vnetTopology());
  const stop = async () => {
    for (const a of agents.values()) await a.stop();
    for (const s of services) await s.stop();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const tables = async (hostId: string): Promise<AgentTables> => (await fetch(`${agents.get(hostId)!.health}/tables`)).json() as never;
  let store: EventStore<StorableEvent & Record<string, unknown>> | undefined;
  const publish = async (type: string, payload: Record<string, unknown>, schemaVersion = 1) => {
    const id = crypto.randomUUID();
    const ev = { type, schemaVersion, id, causationId: null, correlationId: id, occurredAt: new Date().toISOString(), payload };
    const r = await store!.publishRaw(`vnet.ext.${type}`, Buffer.from(JSON.stringify(ev)), { msgId: id });
    assert.ok(E.isRight(r), `publishing ${type}`);
  };
  try {
    store = await nats.connectJson(name);
    services.push(
      await startService('gateway', nats.url),
      await startService('mapping', nats.url),
      await startService('authorization', nats.url),
      await startService('token-issuer', nats.url, { env: { VNET_DATA_DIR: dir, VNET_TOKEN_LIFETIME_S: String(opts.tokenLifetimeS ?? 300) } }),
    );
    if (opts.migration) {
      const env = { VNET_MIGRATION_GRACE_MS: String(opts.migration.graceMs), VNET_MIGRATION_PREPARE_TIMEOUT_MS: String(opts.migration.prepareTimeoutMs) };
      services.push(await startService('migration', nats.url, { env }));
    }
    const keys = new Map(hosts.map((h) => [h.hostId, generateHostKeyPair()]));
    // Agents install only tokens sealed by this issuer (its key pair, made on its first start).
    const issuerPublicKey = parseKeyPair(readFileSync(join(dir, 'keys', 'token-issuer.json'), 'utf8')).publicKey;
    await publish('RegionDeclared', { regionId: 'r1', name: 'Region 1' });
    await publish('DatacenterDeclared', { datacenterId: 'dc1', regionId: 'r1', name: 'DC 1' });
    for (const h of hosts) {
      const u = `${h.addr}:${await freePort(h.addr)}`;
      underlay.set(h.hostId, u);
      await publish('HostRegistered', { hostId: h.hostId, regionId: 'r1', datacenterId: 'dc1', underlay: u, publicKey: keys.get(h.hostId)!.publicKey }, 2);
      writeFileSync(join(dir, `${h.hostId}.json`), JSON.stringify(keys.get(h.hostId)), { mode: 0o600 });
    }
    for (const n of networks) await publish('NetworkCreated', { networkId: n.networkId, projectId: 'p', vni: n.vni, cidr: n.cidr });
    for (const v of vms) await publish('VmPlaced', { ...v });
    for (const h of hosts) {
      agents.set(
        h.hostId,
        await startService('host-agent', nats.url, { env: { VNET_HOST_ID: h.hostId, VNET_HOST_KEY_FILE: join(dir, `${h.hostId}.json`), VNET_ISSUER_PUBLIC_KEY: issuerPublicKey } }),
      );
    }
    for (const h of hosts) {
      const served = new Set(vms.filter((v) => v.hostId === h.hostId).map((v) => v.vni));
      const expected = vms.filter((v) => served.has(v.vni)).length;
      const local = vms.filter((v) => v.hostId === h.hostId).map((v) => v.vmId);
      await until(
        async () => {
          const t = await tables(h.hostId);
          return t.tableSize === expected && local.every((vm) => (t.vmKeyIds[vm]?.length ?? 0) > 0) ? true : undefined;
        },
        `${h.hostId} tables (${expected} entries) and the keys of ${local.join(', ')}`,
        20_000,
      );
    }
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
  return {
    nats,
    underlay,
    tables,
    counter: async (hostId, name, label) => {
      const text = await (await fetch(`${agents.get(hostId)!.health}/metrics`)).text();
      const m = new RegExp(label === '' ? `^vnet_host_${name}_total(?:\\{[^}]*\\})? (\\d+)` : `^vnet_host_${name}_total\\{[^}]*="${label}"[^}]*\\} (\\d+)`, 'm').exec(text);
      return Number(m?.[1] ?? 0);
    },
    vmPort: async (vm) => {
      const port = await until(async () => (await tables(vm.hostId)).vms.find((x) => x.vmId === vm.vmId)?.port, `${vm.vmId} VM port`, 10_000);
      return `127.0.0.1:${port}`;
    },
    publish,
    agent: (hostId) => agents.get(hostId)!,
    stop,
  };
}

/** The events of a migration so far (its own stream, `migration.<id>`). */
export async function migrationEvents(plane: Plane, migrationId: string): Promise<DomainEvent[]> {
  const store = await plane.nats.connect(domainEventCodec, `mig-read-${migrationId}`);
  try {
    return await readMigration(store, migrationId);
  } finally {
    await store.close();
  }
}

async function readMigration(store: EventStore<DomainEvent>, migrationId: string): Promise<DomainEvent[]> {
  const out: DomainEvent[] = [];
  for await (const r of store.readAll({ filter: `vnet.evt.migration.${migrationId}` })) out.push(r.event);
  return out;
}

/** Waits for a migration's end (`MigrationCompleted` or `MigrationFailed`), polling its stream on one connection. */
export async function migrationEnd(plane: Plane, migrationId: string, ms = 15_000): Promise<EventOf<'MigrationCompleted'> | EventOf<'MigrationFailed'>> {
  const store = await plane.nats.connect(domainEventCodec, `mig-end-${migrationId}`);
  try {
    return await until(
      async () => (await readMigration(store, migrationId)).find((e): e is EventOf<'MigrationCompleted'> | EventOf<'MigrationFailed'> => e.type === 'MigrationCompleted' || e.type === 'MigrationFailed'),
      `the end of migration ${migrationId}`,
      ms,
      100,
    );
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------- namespaces as VMs

/** Why kernel namespaces/TUN cannot be used here, or undefined when they can (probed by creating and deleting a namespace). */
export async function netnsUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces need Linux (platform is ${process.platform})`;
  for (const c of ['ip', 'socat']) if (!hasCommand(c)) return `${c} is not installed`;
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing (no TUN support in this kernel/container)';
  const probe = `vnet-t-${process.pid}-p`;
  const r = await run('ip', ['netns', 'add', probe]);
  if (r.code !== 0) return `cannot create a network namespace (ip netns add: ${r.stderr.trim() || `exit ${r.code}`})`;
  // A TUN device created inside the probe namespace (never in the root one), then dropped with it.
  const tun = await run('ip', ['-n', probe, 'tuntap', 'add', 'dev', `vtp${process.pid}`, 'mode', 'tun']);
  await run('ip', ['netns', 'del', probe]);
  if (tun.code !== 0) return `cannot create a TUN device (ip tuntap add: ${tun.stderr.trim() || `exit ${tun.code}`})`;
  return undefined;
}

/** A VM made of a network namespace: its TUN device carries its packets, one per datagram, to the agent's VM port through socat. */
export interface NsVm {
  readonly ns: string;
  readonly dev: string;
  readonly ip: string;
  readonly ipCidr: string;
  readonly socat: ChildProcess;
  /** Runs a command inside the namespace. */
  exec(cmd: string, args: readonly string[], timeoutMs?: number): Promise<RunResult>;
}

/** Everything created by {@link createNsVm}, for cleanup (also from a process 'exit' handler). */
const created = { namespaces: new Set<string>(), procs: new Set<ChildProcess>(), devices: new Set<string>() };
process.once('exit', () => {
  for (const p of created.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const ns of created.namespaces) spawnSync('ip', ['netns', 'del', ns], { timeout: 2000 });
  for (const dev of created.devices) spawnSync('ip', ['tuntap', 'del', 'dev', dev, 'mode', 'tun'], { timeout: 2000 });
});

/**
 * Creates namespace `ns`; starts socat in the root namespace with a TUN device `dev` that has
 * NO address (`iff-no-pi`: raw IPv4, what the VM port carries) connected to the agent's VM
 * port; moves the device into the namespace, and only there gives it `ip/prefix` and brings
 * it (and lo) up. IPv6 is disabled in the namespace so that only the test's IPv4 is sent.
 */
export async function createNsVm(ns: string, dev: string, ipCidr: string, vmPort: string, opts: { readonly movable?: boolean } = {}): Promise<NsVm> {
  assert.ok(dev.length <= 15, `device name ${dev} is longer than 15 characters`);
  assert.match(ipCidr, /^10\.\d+\.\d+\.\d+\/\d+$/);
  await must('ip', ['netns', 'add', ns]);
  created.namespaces.add(ns);
  const sysctl = (k: string) => run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `${k}=1`]);
  await sysctl('net.ipv6.conf.all.disable_ipv6');
  await sysctl('net.ipv6.conf.default.disable_ipv6');
  // A VM that will migrate gets a persistent device (still without an address in the root
  // namespace), so that it outlives its socat when that is re-pointed.
  if (opts.movable) {
    await must('ip', ['tuntap', 'add', 'dev', dev, 'mode', 'tun']);
    created.devices.add(dev);
  }
  const socat = await bridgeTun(dev, vmPort);
  await enterNs(ns, dev, ipCidr);
  await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  return {
    ns,
    dev,
    ip: ipCidr.split('/')[0]!,
    ipCidr,
    socat,
    exec: (cmd, args, timeoutMs = 10_000) => run('ip', ['netns', 'exec', ns, cmd, ...args], timeoutMs),
  };
}

/** Starts socat in the root namespace between TUN device `dev` (made by it, or an existing
 * persistent one: no address either way) and a VM port; resolves once it holds the device. */
async function bridgeTun(dev: string, vmPort: string): Promise<ChildProcess> {
  assert.match(vmPort, /^127\.0\.0\.1:\d+$/);
  // socat's TUN address is optional: without one the device gets no address in the root namespace.
  const socat = spawn('socat', ['-d', `TUN,tun-name=${dev},iff-no-pi`, `UDP:${vmPort},bind=127.0.0.1`], { stdio: ['ignore', 'ignore', 'pipe'] });
  created.procs.add(socat);
  let socatErr = '';
  socat.stderr!.on('data', (d) => (socatErr = (socatErr + String(d)).slice(-2000)));
  // Attached once one of its descriptors is the device (a TUN descriptor's fdinfo names it).
  const holds = (): boolean => {
    try {
      const dir = `/proc/${socat.pid}/fdinfo`;
      return readdirSync(dir).some((fd) => {
        try {
          return readFileSync(join(dir, fd), 'utf8').includes(`iff:\t${dev}\n`);
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  };
  try {
    await until(
      async () => {
        if (socat.exitCode !== null) throw new Error(`socat exited (${socat.exitCode}): ${socatErr.trim()}`);
        return holds() ? true : undefined;
      },
      `socat holding TUN device ${dev}`,
      5000,
      5,
    );
  } catch (e) {
    await stopChild(socat, 500);
    created.procs.delete(socat);
    throw e;
  }
  return socat;
}

/** Moves `dev` (no address) into namespace `ns` and gives it its address there only. */
async function enterNs(ns: string, dev: string, ipCidr: string): Promise<void> {
  await must('ip', ['link', 'set', dev, 'netns', ns]);
  await run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
  await must('ip', ['-n', ns, 'addr', 'add', ipCidr, 'dev', dev]);
  await must('ip', ['-n', ns, 'link', 'set', dev, 'up']);
}

/**
 * Live migration of a namespace VM (made `movable`): its socat is re-pointed to the VM port
 * on the new host. The old socat stops (the persistent device stays in the namespace, like a
 * paused VM), the device goes back to the root namespace (which drops its address), a new
 * socat takes it with the new port, and it returns to the namespace and gets its address
 * again. The VM's kernel, address and sockets are the same throughout.
 */
export async function repointNsVm(vm: NsVm, vmPort: string): Promise<NsVm> {
  await stopChild(vm.socat, 500);
  created.procs.delete(vm.socat);
  // Back to this process's namespace (the root one of these tests), where socat runs.
  await must('ip', ['-n', vm.ns, 'link', 'set', vm.dev, 'netns', String(process.pid)]);
  const socat = await bridgeTun(vm.dev, vmPort);
  await enterNs(vm.ns, vm.dev, vm.ipCidr);
  return { ...vm, socat };
}

/** Stops the socat of a namespace VM (which removes its TUN device) and deletes the namespace. */
export async function destroyNsVm(ns: string, socat: ChildProcess | undefined, dev?: string): Promise<void> {
  await stopChild(socat);
  if (socat) created.procs.delete(socat);
  // A persistent (movable) device goes, wherever it is.
  if (dev !== undefined && created.devices.delete(dev)) {
    await run('ip', ['-n', ns, 'tuntap', 'del', 'dev', dev, 'mode', 'tun']);
    await run('ip', ['tuntap', 'del', 'dev', dev, 'mode', 'tun']);
  }
  if ((await run('ip', ['netns', 'list'])).stdout.split('\n').some((l) => l.split(' ')[0] === ns)) await run('ip', ['netns', 'del', ns]);
  created.namespaces.delete(ns);
}

/** Lines of the root namespace's IPv4 addresses and routes (all tables) that mention a 10.x address or one of `devs`. */
export async function rootTenLines(devs: readonly string[]): Promise<string[]> {
  const addr = await must('ip', ['-4', '-o', 'addr', 'show']);
  const route = await must('ip', ['-4', 'route', 'show', 'table', 'all']);
  const link = await must('ip', ['-o', 'link', 'show']);
  return [...addr.stdout.split('\n'), ...route.stdout.split('\n'), ...link.stdout.split('\n')]
    .filter((l) => /(^|[^\d.])10\.\d+\.\d+\.\d+/.test(l) || devs.some((d) => new RegExp(`\\b${d}\\b`).test(l)))
    .map((l) => l.trim());
}
