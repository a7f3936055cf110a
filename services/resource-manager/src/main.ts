/**
 * resource-manager: the resource graph; allocations and releases handled one at a time per
 * node, deletions down the links (see README.md). Any number of instances may run: they
 * share the requests and write each node's decisions with optimistic concurrency.
 * It also keeps the graph's shape from the log (regions, datacenters, hosts, networks and their
 * subnets) and creates VMs for `InstancesRequested` through it.
 * Configuration by environment: NATS_URL, VNET_REPLICAS, VNET_INSTANCES_IMAGE_WAIT_MS,
 * VNET_HTTP_HOST, VNET_HTTP_PORT, VNET_LOG_LEVEL.
 */
import { domainEventCodec } from '@vnet/events';
import { EventStore } from '@vnet/eventstore';
import { loadConfig, startServiceRuntime } from '@vnet/service-kit';
import { vnetTopology } from '@vnet/topology';
import { Counter, Gauge, Histogram } from 'prom-client';
import { startInstancesFlow } from './adapters/instances';
import { startResourceManager } from './adapters/manager';

const config = loadConfig({
  natsUrl: { env: 'NATS_URL', kind: 'string', default: 'nats://127.0.0.1:4222', doc: 'NATS server(s), comma-separated' },
  replicas: { env: 'VNET_REPLICAS', kind: 'int', min: 1, max: 5, default: 1, doc: 'stream replicas (3 on a cluster)' },
  imageWaitMs: {
    env: 'VNET_INSTANCES_IMAGE_WAIT_MS',
    kind: 'int',
    min: 1000,
    max: 86_400_000,
    default: 600_000,
    doc: 'how long a request for instances waits for its image to be copied into the region',
  },
});
const rt = await startServiceRuntime({ service: 'resource-manager' });
const store = await EventStore.connect({ servers: config.natsUrl, name: 'resource-manager' }, domainEventCodec);
rt.onShutdown(() => store.close(), { name: 'nats' });
await store.applyTopology(vnetTopology(config.replicas), { update: false });
const registers = [rt.metrics];
const handled = new Histogram({
  name: 'vnet_resource_request_seconds',
  help: 'time to decide and write one request, by type',
  labelNames: ['type'],
  buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25, 1],
  registers,
});
const manager = await startResourceManager(store, {
  onError: (e) => rt.log.warn({ err: e }, 'resource manager'),
  onHandled: (type, ms) => handled.observe({ type }, ms / 1000),
});
const last = { allocated: 0, refused: 0, released: 0, deleted: 0, conflicts: 0 };
new Counter({
  name: 'vnet_resource_decisions_total',
  help: 'decisions written by this instance, by kind (conflicts: writes refused because another instance wrote to the node first)',
  labelNames: ['kind'],
  registers,
  collect() {
    const now = manager.counters();
    for (const k of Object.keys(last) as Array<keyof typeof last>) {
      this.inc({ kind: k }, now[k] - last[k]);
      last[k] = now[k];
    }
  },
});
new Gauge({
  name: 'vnet_resource_nodes',
  help: 'nodes in the graph (deleted ones excluded)',
  registers,
  collect() {
    let n = 0;
    for (const x of manager.graph.nodes.values()) if (x.revision > 0 && !x.deleted) n++;
    this.set(n);
  },
});
rt.onShutdown(() => manager.stop(), { name: 'resource manager' });
const outcomes = new Counter({ name: 'vnet_instances_requests_total', help: 'requests for instances handled, by outcome', labelNames: ['outcome'], registers });
const instances = await startInstancesFlow(store, manager.ops, {
  imageWaitMs: config.imageWaitMs,
  onError: (e) => rt.log.warn({ err: e }, 'instances'),
  onOutcome: (outcome) => outcomes.inc({ outcome }),
});
rt.onShutdown(() => instances.stop(), { name: 'instances' });
// A manager that stops by itself exits the process, so a supervisor restarts it.
manager.done.catch(async (e: unknown) => {
  rt.log.fatal({ err: e }, 'resource manager stopped');
  await rt.shutdown('resource manager stopped');
  process.exit(1);
});
rt.setReady(true);
rt.log.info({ nats: store.server, nodes: manager.graph.nodes.size }, 'resource-manager ready: requests on vnet.evt.resreq.>');
