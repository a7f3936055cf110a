/**
 * The demo topology `vnet up` seeds: 2 regions, 4 hosts, 2 networks, 8 VMs, and the demo
 * project in the resource graph with a quota of 64 instances. Event ids are
 * derived from names, so seeding twice stores nothing new; `vnet up` also skips seeding when
 * the first demo aggregate already exists.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateHostKeyPair, parseKeyPair } from '@vnet/tokens';
import { uuidOf } from './ids';

/** The demo's ids: the same name gives the same id. */
const nameId = (name: string): string => uuidOf(`vnet-demo:${name}`);

/** The host's X25519 public key (raw 32 bytes, base64); the key pair stays in the data folder
 * (`<data>/keys/<host>.json`, mode 0600), where `vnet up` points the host's agent. */
function hostPublicKey(keysDir: string, host: string): string {
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const file = join(keysDir, `${host}.json`);
  if (existsSync(file)) return parseKeyPair(readFileSync(file, 'utf8'), file).publicKey;
  const keys = generateHostKeyPair();
  writeFileSync(file, JSON.stringify(keys), { mode: 0o600 });
  return keys.publicKey;
}

export const DEMO_FIRST_STREAM = 'region.eu-west';

/** The demo's hosts (underlay 127.0.1.N:6081). */
export const DEMO_HOSTS = ['h1', 'h2', 'h3', 'h4'];

/** The demo's events as an external system would publish them (in order). */
export function demoEvents(keysDir: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  const at = '2026-01-01T00:00:00.000Z';
  const add = (type: string, key: string, payload: Record<string, unknown>, schemaVersion = 1) => {
    const id = nameId(`${type}:${key}`);
    out.push({ type, schemaVersion, id, causationId: null, correlationId: nameId('demo'), occurredAt: at, payload });
  };
  const regions = [
    { regionId: 'eu-west', name: 'Europe West', dc: 'eu-west-1a' },
    { regionId: 'us-east', name: 'US East', dc: 'us-east-1a' },
  ];
  for (const r of regions) {
    add('RegionDeclared', r.regionId, { regionId: r.regionId, name: r.name });
    add('DatacenterDeclared', r.dc, { datacenterId: r.dc, regionId: r.regionId, name: r.dc });
  }
  const hosts = [1, 2, 3, 4].map((n) => ({ hostId: `h${n}`, region: regions[n <= 2 ? 0 : 1]!, n }));
  for (const h of hosts) {
    add(
      'HostRegistered',
      h.hostId,
      {
        hostId: h.hostId,
        regionId: h.region.regionId,
        datacenterId: h.region.dc,
        underlay: `127.0.1.${h.n}:6081`,
        publicKey: hostPublicKey(keysDir, h.hostId),
        capacity: { cpus: 16, memoryMiB: 65536 },
      },
      2,
    );
  }
  const nets = [
    { networkId: 'blue', vni: 1001, cidr: '10.1.0.0/24' },
    { networkId: 'green', vni: 1002, cidr: '10.2.0.0/24' },
  ];
  for (const n of nets) add('NetworkCreated', n.networkId, { networkId: n.networkId, projectId: 'demo', vni: n.vni, cidr: n.cidr });
  // The project in the resource graph, with a quota, so that InstancesRequested can start VMs.
  add('ResourceNodeAdded', 'project-demo', { node: { kind: 'project', id: 'demo' }, capacity: { instances: 64 } });
  for (let i = 0; i < 8; i++) {
    const net = nets[i % 2]!;
    const host = hosts[Math.floor(i / 2)]!;
    const vmId = `${net.networkId}-${Math.floor(i / 2) + 1}`;
    add('VmPlaced', vmId, { vmId, networkId: net.networkId, vni: net.vni, ip: `${net.cidr.split('.').slice(0, 3).join('.')}.${10 + i}`, hostId: host.hostId });
  }
  return out;
}
