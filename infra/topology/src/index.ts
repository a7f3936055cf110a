/**
 * vnet's streams, KV buckets and shared consumers, declared as code. `vnet up` and every
 * service apply this on start; applying it twice changes nothing.
 */
import type { StreamSpec, Topology } from '@vnet/eventstore';

const MIB = 1024 * 1024;
const DAY_MS = 24 * 3600 * 1000;

/** The canonical domain log: every fact, kept forever. */
export const EVENTS_STREAM: StreamSpec = {
  name: 'VNET_EVENTS',
  subjects: ['vnet.evt.>'],
  description: 'vnet domain events (canonical log, one subject per aggregate)',
  storage: 'file',
  retention: 'limits',
  maxAgeMs: 0,
  maxMsgSize: MIB,
  maxBytes: -1,
  // Re-sent events (same id) are stored once within this window.
  duplicateWindowMs: 60 * 60 * 1000,
  replicas: 1,
  allowDirect: true,
};

/** What external systems publish, before the gateway has validated it. */
export const EXTERNAL_STREAM: StreamSpec = {
  name: 'VNET_EXT',
  subjects: ['vnet.ext.>'],
  description: 'raw events from external systems, validated by the gateway',
  storage: 'file',
  retention: 'limits',
  maxAgeMs: 7 * DAY_MS,
  maxMsgSize: 8 * MIB,
  maxBytes: -1,
  duplicateWindowMs: 2 * 60 * 1000,
  replicas: 1,
  allowDirect: false,
};

/** Rejected input and messages no handler could process, with the reason. */
export const DEAD_LETTER_STREAM: StreamSpec = {
  name: 'VNET_DLQ',
  subjects: ['vnet.dlq.>'],
  description: 'dead letters: rejected external events and failed deliveries, with reasons',
  storage: 'file',
  retention: 'limits',
  maxAgeMs: 30 * DAY_MS,
  // As large as anything the ingest takes, so a dead letter always fits.
  maxMsgSize: 9 * MIB,
  maxBytes: -1,
  duplicateWindowMs: 2 * 60 * 1000,
  replicas: 1,
  allowDirect: false,
};

/** The gateway's shared durable consumer (all gateway instances pull from it). */
export const GATEWAY_CONSUMER = {
  name: 'gateway',
  stream: EXTERNAL_STREAM.name,
  filter: 'vnet.ext.>',
  // A message takes milliseconds to handle; a crashed gateway's messages come back after this.
  ackWaitMs: 5_000,
  maxDeliver: 5,
} as const;

/** With `replicas` set for every stream (3 on a three-node cluster). */
export function vnetTopology(replicas = 1): Topology {
  return {
    streams: [EVENTS_STREAM, EXTERNAL_STREAM, DEAD_LETTER_STREAM].map((s) => ({ ...s, replicas })),
    kv: [{ bucket: 'vnet_checkpoints', history: 1, description: 'projection checkpoints (model + position)', replicas }],
    consumers: [GATEWAY_CONSUMER],
  };
}
