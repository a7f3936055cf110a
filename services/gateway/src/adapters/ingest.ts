/**
 * The gateway's ingest loop (the decision itself is `validateExternal` of the catalogue): pulls from the shared `gateway` consumer on VNET_EXT (so
 * several gateways split the work), appends valid events to the canonical log and sends the
 * rest to `vnet.dlq.ext.<kind>` with the reason and the original bytes. The ingest message is
 * acked only after one of the two writes is stored: each input ends in exactly one place.
 * Both writes are idempotent (event id / ingest position as `Nats-Msg-Id`), so a redelivery
 * after a crash stores nothing twice.
 */
import { createHash } from 'node:crypto';
import * as E from 'fp-ts/lib/Either.js';
import { MAX_EXTERNAL_EVENT_BYTES, streamNameOf, validateExternal, type DomainEvent, type Rejection } from '@vnet/events';
import { describeAppendError, type EventStore, type RawDelivery, type Subscription } from '@vnet/eventstore';
import { GATEWAY_CONSUMER } from '@vnet/topology';
import type { Logger } from '@vnet/service-kit';
import { Counter, type Registry } from 'prom-client';

/** Bytes of an oversized message kept in its dead letter. */
const KEPT_OF_OVERSIZED = 64 * 1024;

export interface GatewayMetrics {
  readonly accepted: Counter<'type'>;
  readonly duplicates: Counter<'type'>;
  readonly rejected: Counter<'kind'>;
}

export function gatewayMetrics(registry: Registry): GatewayMetrics {
  return {
    accepted: new Counter({ name: 'vnet_gateway_accepted_total', help: 'external events appended to the log', labelNames: ['type'], registers: [registry] }),
    duplicates: new Counter({ name: 'vnet_gateway_duplicates_total', help: 're-sent events already in the log', labelNames: ['type'], registers: [registry] }),
    rejected: new Counter({ name: 'vnet_gateway_rejected_total', help: 'external messages sent to the dead letters', labelNames: ['kind'], registers: [registry] }),
  };
}

async function deadLetter(store: EventStore<DomainEvent>, d: RawDelivery, r: Rejection): Promise<void> {
  const oversized = d.data.byteLength > MAX_EXTERNAL_EVENT_BYTES;
  const res = await store.publishRaw(`vnet.dlq.ext.${r.kind}`, oversized ? d.data.subarray(0, KEPT_OF_OVERSIZED) : d.data, {
    msgId: `dlq-ext-${d.position}`,
    headers: {
      'Vnet-Reason': r.reason.slice(0, 4000),
      'Vnet-Rejection': r.kind,
      'Vnet-Original-Subject': d.subject,
      'Vnet-Ingest-Position': String(d.position),
      'Vnet-Original-Size': String(d.data.byteLength),
      'Vnet-Original-Sha256': createHash('sha256').update(d.data).digest('hex'),
      ...(oversized ? { 'Vnet-Truncated': `first ${KEPT_OF_OVERSIZED} bytes kept` } : {}),
      ...(r.eventId ? { 'Vnet-Event-Id': r.eventId } : {}),
    },
  });
  // Not stored: throw so the ingest message is redelivered instead of lost.
  if (E.isLeft(res)) throw new Error(`dead letter not stored: ${describeAppendError(res.left)}`);
}

/** Handles one ingest message; throws only when it must be retried. */
export async function handleIngest(store: EventStore<DomainEvent>, m: GatewayMetrics, log: Logger, d: RawDelivery): Promise<void> {
  const v = validateExternal(d.subject, d.data);
  if (E.isLeft(v)) {
    await deadLetter(store, d, v.left);
    m.rejected.inc({ kind: v.left.kind });
    log.info({ position: d.position, subject: d.subject, kind: v.left.kind }, 'rejected external message');
    return;
  }
  const ev = v.right;
  const r = await store.appendToStream(streamNameOf(ev), [ev]);
  if (E.isLeft(r)) {
    if (r.left._tag === 'StoreUnavailable') throw new Error(describeAppendError(r.left));
    await deadLetter(store, d, { _tag: 'Rejection', kind: 'invalid', reason: describeAppendError(r.left), eventId: ev.id });
    m.rejected.inc({ kind: 'invalid' });
    return;
  }
  if (r.right.duplicates > 0) m.duplicates.inc({ type: ev.type });
  else m.accepted.inc({ type: ev.type });
}

/** Starts the ingest subscription. */
export function startIngest(store: EventStore<DomainEvent>, m: GatewayMetrics, log: Logger): Promise<Subscription> {
  return store.subscribeRaw({ ...GATEWAY_CONSUMER, batch: 256 }, (d) => handleIngest(store, m, log, d));
}
