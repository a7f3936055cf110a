/**
 * mapping: the VM ↔ host locator. Decides on host and placement events from the log and
 * writes mappings per VNI (`vni.<vni>`), assignments per host (`hostvms.<hostId>`) and
 * rejections per VM (`vm.<vmId>`). See README.md.
 * Configuration by environment: NATS_URL, VNET_REPLICAS, VNET_HTTP_HOST, VNET_HTTP_PORT, VNET_LOG_LEVEL.
 */
import { domainEventCodec } from '@vnet/events';
import { EventStore } from '@vnet/eventstore';
import { exitWhenStopped } from '@vnet/runner';
import { loadConfig, startServiceRuntime } from '@vnet/service-kit';
import { vnetTopology } from '@vnet/topology';
import { startMapper } from './adapters/mapper';
import { mappingMetrics } from './adapters/metrics';

const config = loadConfig({
  natsUrl: { env: 'NATS_URL', kind: 'string', default: 'nats://127.0.0.1:4222', doc: 'NATS server(s), comma-separated' },
  replicas: { env: 'VNET_REPLICAS', kind: 'int', min: 1, max: 5, default: 1, doc: 'stream replicas (3 on a cluster)' },
});
const rt = await startServiceRuntime({ service: 'mapping' });
const store = await EventStore.connect({ servers: config.natsUrl, name: 'mapping' }, domainEventCodec);
rt.onShutdown(() => store.close(), { name: 'nats' });
// Create what is missing; never change what an operator set (e.g. R3 replicas).
await store.applyTopology(vnetTopology(config.replicas), { update: false });
const mapper = await startMapper(store, mappingMetrics(rt.metrics), rt.log);
rt.onShutdown(() => mapper.stop(), { name: 'mapper' });
exitWhenStopped(mapper, rt, 'mapping');
rt.setReady(true);
rt.log.info({ nats: store.server, mappings: mapper.state().vms.size }, 'mapping ready: following vnet.evt.>');
