/**
 * Test harness: a real nats-server on a free port with a temporary store, and store clients
 * connected to it. Every server started here is stopped by `stop()` (use it in `after`).
 */
import { startNatsServer, type NatsServerOptions, type RunningNatsServer } from '@vnet/natsd';
import { EventStore } from '../client';
import { jsonCodec, type EventCodec, type StorableEvent } from '../context';
import type { Topology } from '../topology';

export interface TestNats {
  readonly server: RunningNatsServer;
  readonly url: string;
  /** Connects a client (closed by stop()). */
  connect<Ev extends StorableEvent>(codec: EventCodec<Ev>, name?: string): Promise<EventStore<Ev>>;
  connectJson(name?: string): Promise<EventStore<StorableEvent & Record<string, unknown>>>;
  /** Closes every client and stops the server (removing its temp store). */
  stop(): Promise<void>;
}

/** Starts nats-server and applies `topology` when given. */
export async function startTestNats(topology?: Topology, opts: NatsServerOptions = {}): Promise<TestNats> {
  const server = await startNatsServer(opts);
  const clients: Array<EventStore<never>> = [];
  const connect = async <Ev extends StorableEvent>(codec: EventCodec<Ev>, name = 'test') => {
    const s = await EventStore.connect({ servers: server.url, name, timeoutMs: 5000 }, codec);
    clients.push(s as unknown as EventStore<never>);
    return s;
  };
  try {
    if (topology) {
      const admin = await connect(jsonCodec, 'test-admin');
      await admin.applyTopology(topology);
    }
  } catch (e) {
    await server.stop();
    throw e;
  }
  return {
    server,
    url: server.url,
    connect,
    connectJson: (name) => connect(jsonCodec, name),
    stop: async () => {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await server.stop();
    },
  };
}

export { startService, until, type ServiceProcess, type StartServiceOptions } from './service-process';
