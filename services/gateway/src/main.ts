/**
 * gateway: validates events from external systems (`vnet.ext.>`) into the canonical log.
 * Configuration by environment: NATS_URL, VNET_REPLICAS, VNET_HTTP_HOST, VNET_HTTP_PORT, VNET_LOG_LEVEL.
 */
import { domainEventCodec } from '@vnet/events';
import { EventStore } from '@vnet/eventstore';
import { loadConfig, startServiceRuntime } from '@vnet/service-kit';
import { vnetTopology } from '@vnet/topology';
import { gatewayMetrics, startIngest } from './adapters/ingest';

const config = loadConfig({
  natsUrl: { env: 'NATS_URL', kind: 'string', default: 'nats://127.0.0.1:4222', doc: 'NATS server(s), comma-separated' },
  replicas: { env: 'VNET_REPLICAS', kind: 'int', min: 1, max: 5, default: 1, doc: 'stream replicas (3 on a cluster)' },
});
const rt = await startServiceRuntime({ service: 'gateway' });
const store = await EventStore.connect({ servers: config.natsUrl, name: 'gateway' }, domainEventCodec);
// Create what is missing; never change what an operator set (e.g. R3 replicas).
await store.applyTopology(vnetTopology(config.replicas), { update: false });
const sub = await startIngest(store, gatewayMetrics(rt.metrics), rt.log);
rt.onShutdown(() => store.close(), { name: 'nats' });
rt.onShutdown(() => sub.stop(), { name: 'ingest' });
// If ingest ever stops on its own, say so and exit: a supervisor restarts the gateway.
sub.done.then(
  () => undefined,
  async (e: unknown) => {
    rt.log.fatal({ err: e }, 'ingest stopped');
    await rt.shutdown('ingest failed');
    process.exit(1);
  },
);
rt.setReady(true);
rt.log.info({ nats: store.server }, 'gateway ready: validating vnet.ext.> into the log');
