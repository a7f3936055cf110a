/**
 * image-replication: the global image catalogue and copies of images between regions (see
 * README.md). Several instances may run: a copy is begun once, and a copy whose copier died
 * is begun again by another.
 * Configuration by environment: NATS_URL, VNET_REPLICAS, VNET_IMAGE_COPY_MIBPS,
 * VNET_IMAGE_STALE_MS, VNET_HTTP_HOST, VNET_HTTP_PORT, VNET_LOG_LEVEL.
 */
import { domainEventCodec } from '@vnet/events';
import { EventStore } from '@vnet/eventstore';
import { loadConfig, startServiceRuntime } from '@vnet/service-kit';
import { vnetTopology } from '@vnet/topology';
import { Counter, Gauge } from 'prom-client';
import { startReplicator } from './adapters/replicator';

const config = loadConfig({
  natsUrl: { env: 'NATS_URL', kind: 'string', default: 'nats://127.0.0.1:4222', doc: 'NATS server(s), comma-separated' },
  replicas: { env: 'VNET_REPLICAS', kind: 'int', min: 1, max: 5, default: 1, doc: 'stream and image bucket replicas (3 on a cluster)' },
  rateMiBps: { env: 'VNET_IMAGE_COPY_MIBPS', kind: 'int', min: 0, max: 100_000, default: 0, doc: 'copy images at most this many MiB/s (0: as fast as it goes)' },
  staleMs: { env: 'VNET_IMAGE_STALE_MS', kind: 'int', min: 200, max: 3_600_000, default: 10_000, doc: 'a copy not heard of for this long is begun again' },
});
const rt = await startServiceRuntime({ service: 'image-replication' });
const store = await EventStore.connect({ servers: config.natsUrl, name: 'image-replication' }, domainEventCodec);
rt.onShutdown(() => store.close(), { name: 'nats' });
await store.applyTopology(vnetTopology(config.replicas), { update: false });
const registers = [rt.metrics];
const copied = new Counter({ name: 'vnet_image_copied_bytes_total', help: 'bytes of images copied by this instance', registers });
const copies = new Counter({ name: 'vnet_image_copies_total', help: 'image copies completed by this instance', registers });
const replicator = await startReplicator(store, {
  staleMs: config.staleMs,
  rateMiBps: config.rateMiBps,
  replicas: config.replicas,
  onError: (e) => rt.log.warn({ err: e }, 'image replication'),
  onCopied: (bytes) => {
    copied.inc(bytes);
    copies.inc();
  },
});
new Gauge({
  name: 'vnet_image_copies_running',
  help: 'image copies running in this instance',
  registers,
  collect() {
    this.set(replicator.running());
  },
});
rt.onShutdown(() => replicator.stop(), { name: 'replicator' });
replicator.done.catch(async (e: unknown) => {
  rt.log.fatal({ err: e }, 'image replication stopped');
  await rt.shutdown('image replication stopped');
  process.exit(1);
});
rt.setReady(true);
rt.log.info({ nats: store.server, images: replicator.catalogue.size }, 'image-replication ready: requests on vnet.evt.image.>');
