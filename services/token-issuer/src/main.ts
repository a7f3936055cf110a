/**
 * token-issuer: per-VM secret keys (sealed to the VM's host and to the issuer) and pair
 * tokens (sealed to the source host). See README.md.
 * Configuration by environment: NATS_URL, VNET_REPLICAS, VNET_DATA_DIR, VNET_ISSUER_KEY_FILE,
 * VNET_TOKEN_LIFETIME_S, VNET_HTTP_HOST, VNET_HTTP_PORT, VNET_LOG_LEVEL.
 */
import { join } from 'node:path';
import { domainEventCodec } from '@vnet/events';
import { EventStore } from '@vnet/eventstore';
import { exitWhenStopped } from '@vnet/runner';
import { loadConfig, startServiceRuntime } from '@vnet/service-kit';
import { vnetTopology } from '@vnet/topology';
import { startIssuer } from './adapters/issuer';
import { loadOrCreateKeyPair } from './adapters/keyfile';

const config = loadConfig({
  natsUrl: { env: 'NATS_URL', kind: 'string', default: 'nats://127.0.0.1:4222', doc: 'NATS server(s), comma-separated' },
  replicas: { env: 'VNET_REPLICAS', kind: 'int', min: 1, max: 5, default: 1, doc: 'stream replicas (3 on a cluster)' },
  dataDir: { env: 'VNET_DATA_DIR', kind: 'string', default: '.vnet', doc: 'data folder (the issuer key lives in <dir>/keys/)' },
  keyFile: { env: 'VNET_ISSUER_KEY_FILE', kind: 'string', default: '', doc: 'issuer X25519 key pair (JSON); default <data dir>/keys/token-issuer.json, made on first start' },
  tokenLifetimeS: { env: 'VNET_TOKEN_LIFETIME_S', kind: 'int', min: 10, max: 86_400, default: 300, doc: 'how long a pair token is valid, in seconds' },
});
const rt = await startServiceRuntime({ service: 'token-issuer' });
const keyFile = config.keyFile || join(config.dataDir, 'keys', 'token-issuer.json');
const { keys, created } = loadOrCreateKeyPair(keyFile);
rt.log.info({ keyFile, created, publicKey: keys.publicKey }, 'issuer key pair');
const store = await EventStore.connect({ servers: config.natsUrl, name: 'token-issuer' }, domainEventCodec);
rt.onShutdown(() => store.close(), { name: 'nats' });
await store.applyTopology(vnetTopology(config.replicas), { update: false });
const runner = await startIssuer(store, rt.metrics, { keys, tokenLifetimeS: config.tokenLifetimeS, log: rt.log });
rt.onShutdown(() => runner.stop(), { name: 'issuer' });
exitWhenStopped(runner, rt, 'token-issuer');
rt.setReady(true);
rt.log.info({ nats: store.server, vmKeys: runner.state().keys.size, tokenLifetimeS: config.tokenLifetimeS }, 'token issuer ready: following vnet.evt.>');
