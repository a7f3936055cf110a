/**
 * host-agent: one per host. Folds its slice of the log into tunnel tables and programs the
 * userspace Geneve data plane with them. Configuration by environment: VNET_HOST_ID
 * (required), NATS_URL, VNET_UNDERLAY (default: the address of the host's HostRegistered),
 * VNET_HOST_KEY_FILE (the host's X25519 key pair: VM keys and pair tokens sealed to it are
 * opened; required unless VNET_TOKENS=false), VNET_TOKENS (default true: no packet is
 * delivered without a valid pair token), VNET_SNAPSHOT_EVERY, VNET_REGISTRATION_WAIT_MS, VNET_HTTP_HOST/PORT, VNET_LOG_LEVEL.
 */
import { readFileSync } from 'node:fs';
import * as E from 'fp-ts/lib/Either.js';
import { domainEventCodec, PublicKey } from '@vnet/events';
import { EventStore } from '@vnet/eventstore';
import { loadConfig, startServiceRuntime } from '@vnet/service-kit';
import { parseKeyPair } from '@vnet/tokens';
import { createDataPlane, type DataPlane } from './adapters/dataplane';
import { startKeyring, type Keyring } from './adapters/keyring';
import { startFollowing } from './adapters/follow';
import { startPairFlow } from './adapters/pairflow';
import { migrationPart } from './adapters/migration';
import { Histogram } from 'prom-client';
import { hostAgentMetrics } from './adapters/metrics';
import { desiredFrom } from './domain/desired';
import { servedVnis, tableSize, type HostTables } from './domain/table';

const config = loadConfig({
  hostId: { env: 'VNET_HOST_ID', kind: 'string', doc: 'the host this agent runs (e.g. h1)' },
  natsUrl: { env: 'NATS_URL', kind: 'string', default: 'nats://127.0.0.1:4222' },
  underlay: { env: 'VNET_UNDERLAY', kind: 'string', optional: true, doc: 'host:port to bind; default from HostRegistered' },
  snapshotEvery: { env: 'VNET_SNAPSHOT_EVERY', kind: 'int', min: 0, max: 10_000_000, default: 10_000 },
  registrationWaitMs: { env: 'VNET_REGISTRATION_WAIT_MS', kind: 'int', min: 0, max: 3_600_000, default: 30_000 },
  keyFile: { env: 'VNET_HOST_KEY_FILE', kind: 'string', optional: true, doc: "the host's X25519 key pair (JSON): opens VM keys and pair tokens" },
  issuerPublicKey: {
    env: 'VNET_ISSUER_PUBLIC_KEY',
    kind: 'string',
    optional: true,
    doc: "the token issuer's X25519 public key (base64): when set, only tokens it sealed are installed",
  },
  tokens: { env: 'VNET_TOKENS', kind: 'bool', default: true, doc: 'pair tokens on every packet, checked before delivery (false: the pre-token data plane, for measurements)' },
  maxTokenLifetimeS: {
    env: 'VNET_TOKEN_MAX_LIFETIME_S',
    kind: 'int',
    min: 10,
    max: 86_400,
    default: 3600,
    doc: "the longest token lifetime the issuer uses (>= its VNET_TOKEN_LIFETIME_S): longer-lived tokens are refused, and a rotated key keeps checking for this long",
  },
});
if (config.issuerPublicKey !== undefined && !E.isRight(PublicKey.decode(config.issuerPublicKey))) {
  console.error(`host-agent ${config.hostId}: VNET_ISSUER_PUBLIC_KEY ${JSON.stringify(config.issuerPublicKey)} is not an X25519 public key (32 bytes in base64)`);
  process.exit(2);
}
if (config.tokens && !config.keyFile) {
  console.error(`host-agent ${config.hostId}: VNET_TOKENS is on (the default) but VNET_HOST_KEY_FILE is not set: without the host's key pair no token can be opened or checked. Set VNET_HOST_KEY_FILE, or VNET_TOKENS=false to run without tokens.`);
  process.exit(2);
}
let keyring: Keyring | undefined;
let tables: () => HostTables = () => ({ hostId: config.hostId, local: new Map(), vnis: new Map(), hostPosition: 0 });
let dp: DataPlane | undefined;
const rt = await startServiceRuntime({
  service: `host-agent`,
  routes: (http) => {
    http.get('/tables', async () => {
      const t = tables();
      return {
        hostId: t.hostId,
        servedVnis: servedVnis(t),
        tableSize: tableSize(t),
        pairs: dp?.pairCount() ?? 0,
        vmKeyIds: keyring?.keyIds() ?? {},
        vms: dp?.vmPorts() ?? [],
        tunnels: Object.fromEntries([...t.vnis].map(([vni, v]) => [vni, Object.fromEntries(v.tunnels)])),
      };
    });
  },
});
const store = await EventStore.connect({ servers: config.natsUrl, name: `host-agent-${config.hostId}` }, domainEventCodec);
rt.onShutdown(() => store.close(), { name: 'nats' });

/** The host's underlay address: configured, or from its registration in the log (waited
 * for up to VNET_REGISTRATION_WAIT_MS, since an agent may start before its host is registered). */
async function underlayOf(): Promise<string> {
  if (config.underlay) return config.underlay;
  const end = Date.now() + config.registrationWaitMs;
  for (;;) {
    let underlay: string | undefined;
    for await (const r of store.readStream(`host.${config.hostId}`)) if (r.event.type === 'HostRegistered') underlay = r.event.payload.underlay;
    if (underlay) return underlay;
    if (Date.now() > end) {
      throw new Error(`host ${config.hostId} is not registered (no HostRegistered in host.${config.hostId}); set VNET_UNDERLAY or register it`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

const migration = migrationPart({ store, hostId: config.hostId, plane: () => dp, onError: (e) => rt.log.warn({ err: e }, 'migration') });
const hostKeys = config.keyFile ? parseKeyPair(readFileSync(config.keyFile, 'utf8'), config.keyFile) : undefined;
if (hostKeys) {
  const ring = startKeyring({
    store,
    hostId: config.hostId,
    keys: hostKeys,
    maxTokenLifetimeS: config.maxTokenLifetimeS,
    onError: (e) => rt.log.error({ err: e }, 'keyring'),
    onShared: (e) => migration.keyShared(e),
  });
  keyring = ring;
  rt.onShutdown(() => ring.stop(), { name: 'keyring' });
} else rt.log.warn('no VNET_HOST_KEY_FILE: VM keys sealed to this host are not opened');
const setup = new Histogram({
  name: 'vnet_host_pair_setup_seconds',
  help: 'from a pair request (first packet) to its token installed',
  buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
  registers: [rt.metrics],
});
const flow =
  config.tokens && hostKeys
    ? await startPairFlow({
        store,
        hostId: config.hostId,
        keys: hostKeys,
        ...(config.issuerPublicKey ? { issuerPublicKey: config.issuerPublicKey } : {}),
        maxTokenLifetimeS: config.maxTokenLifetimeS,
        plane: () => dp,
        onSetup: (ms) => setup.observe(ms / 1000),
        onError: (e) => rt.log.warn({ err: e }, 'pair flow'),
      })
    : undefined;
const ringNow = keyring;
dp = await createDataPlane({
  hostId: config.hostId,
  underlay: await underlayOf(),
  ...(flow && ringNow
    ? {
        tokens: {
          keyOf: (vmId: string, keyId: number) => ringNow.keyOf(vmId, keyId),
          onRejected: flow.rejected,
          onPairMiss: flow.request,
          maxLifetimeS: config.maxTokenLifetimeS + 60, // + clock skew
        },
      }
    : {}),
});
rt.onShutdown(() => dp?.close(), { name: 'data plane' });
if (flow) rt.onShutdown(() => flow.stop(), { name: 'pair flow' });
const plane = dp;
const follower = await startFollowing({
  store,
  hostId: config.hostId,
  snapshotEvery: config.snapshotEvery,
  onChange: (t) => {
    plane.apply(desiredFrom(t)).then(
      (r) => r.failed.length > 0 && rt.log.warn({ failed: r.failed }, 'data plane could not apply everything'),
      (e: unknown) => rt.log.error({ err: e }, 'data plane apply failed'),
    );
  },
  onError: (e) => rt.log.error({ err: e }, 'following the log failed'),
  onMoved: (e) => migration.moved(e),
});
tables = () => follower.tables();
rt.onShutdown(() => follower.stop(), { name: 'follower' });
hostAgentMetrics(rt.metrics, tables, plane, () => keyring, () => flow?.stats(), () => Number(keyring?.down() ?? false) + Number(flow?.down() ?? false));
rt.setReady(true);
rt.log.info(
  { host: config.hostId, underlay: plane.underlay, tokens: config.tokens, restoredFrom: follower.restoredFrom, restore: follower.restore },
  'host agent ready',
);
