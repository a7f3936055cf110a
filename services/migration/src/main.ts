/**
 * migration: runs live migrations step by step (see README.md).
 * Configuration by environment: NATS_URL, VNET_REPLICAS, VNET_MIGRATION_GRACE_MS,
 * VNET_MIGRATION_PREPARE_TIMEOUT_MS, VNET_HTTP_HOST, VNET_HTTP_PORT, VNET_LOG_LEVEL.
 */
import { domainEventCodec } from '@vnet/events';
import { EventStore } from '@vnet/eventstore';
import { exitWhenStopped } from '@vnet/runner';
import { loadConfig, startServiceRuntime } from '@vnet/service-kit';
import { vnetTopology } from '@vnet/topology';
import { startMigrator } from './adapters/migrator';

const config = loadConfig({
  natsUrl: { env: 'NATS_URL', kind: 'string', default: 'nats://127.0.0.1:4222', doc: 'NATS server(s), comma-separated' },
  replicas: { env: 'VNET_REPLICAS', kind: 'int', min: 1, max: 5, default: 1, doc: 'stream replicas (3 on a cluster)' },
  graceMs: { env: 'VNET_MIGRATION_GRACE_MS', kind: 'int', min: 100, max: 600_000, default: 3000, doc: 'how long the source host forwards to the target after the switch' },
  prepareTimeoutMs: {
    env: 'VNET_MIGRATION_PREPARE_TIMEOUT_MS',
    kind: 'int',
    min: 100,
    max: 600_000,
    default: 5000,
    doc: 'how long the target may take to get the key and be ready before the migration fails (the VM stays on its source)',
  },
});
const rt = await startServiceRuntime({ service: 'migration' });
const store = await EventStore.connect({ servers: config.natsUrl, name: 'migration' }, domainEventCodec);
rt.onShutdown(() => store.close(), { name: 'nats' });
await store.applyTopology(vnetTopology(config.replicas), { update: false });
const migrator = await startMigrator(store, rt.metrics, rt.log, { graceMs: config.graceMs, prepareTimeoutMs: config.prepareTimeoutMs });
rt.onShutdown(() => migrator.stop(), { name: 'migrator' });
exitWhenStopped(migrator.runner, rt, 'migration');
rt.setReady(true);
rt.log.info({ nats: store.server, inProgress: migrator.runner.state().active.size, graceMs: config.graceMs }, 'migration ready: following vnet.evt.>');
