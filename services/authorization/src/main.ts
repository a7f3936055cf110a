/**
 * authorization: decides on virtual network pairs against the policy (rules as events) and
 * revokes live pairs a policy change no longer allows. See README.md.
 * Configuration by environment: NATS_URL, VNET_REPLICAS, VNET_HTTP_HOST, VNET_HTTP_PORT, VNET_LOG_LEVEL.
 */
import { domainEventCodec } from '@vnet/events';
import { EventStore } from '@vnet/eventstore';
import { exitWhenStopped } from '@vnet/runner';
import { loadConfig, startServiceRuntime } from '@vnet/service-kit';
import { vnetTopology } from '@vnet/topology';
import { startAuthorizer } from './adapters/authorizer';

const config = loadConfig({
  natsUrl: { env: 'NATS_URL', kind: 'string', default: 'nats://127.0.0.1:4222', doc: 'NATS server(s), comma-separated' },
  replicas: { env: 'VNET_REPLICAS', kind: 'int', min: 1, max: 5, default: 1, doc: 'stream replicas (3 on a cluster)' },
});
const rt = await startServiceRuntime({ service: 'authorization' });
const store = await EventStore.connect({ servers: config.natsUrl, name: 'authorization' }, domainEventCodec);
rt.onShutdown(() => store.close(), { name: 'nats' });
await store.applyTopology(vnetTopology(config.replicas), { update: false });
const runner = await startAuthorizer(store, rt.metrics, rt.log);
rt.onShutdown(() => runner.stop(), { name: 'authorizer' });
exitWhenStopped(runner, rt, 'authorization');
rt.setReady(true);
rt.log.info({ nats: store.server, livePairs: runner.state().pairs.size, policyVersion: runner.state().policyVersion }, 'authorization ready: following vnet.evt.>');
