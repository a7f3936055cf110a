/**
 * Killing the gateway mid-stream loses nothing and stores nothing twice: the ingest message
 * is acked only after the event is stored, and the event id deduplicates the redelivery.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import type { EventStore, StorableEvent } from '@vnet/eventstore';
import { vnetTopology } from '@vnet/topology';
import { startService, startTestNats, until, type ServiceProcess, type TestNats } from '@vnet/eventstore/testing';

let nats: TestNats;
let store: EventStore<StorableEvent & Record<string, unknown>>;
const gateways: ServiceProcess[] = [];

before(async () => {
  nats = await startTestNats(vnetTopology());
  store = await nats.connectJson('crash-test');
});
after(async () => {
  for (const g of gateways) await g.stop('SIGKILL');
  await nats?.stop();
});

describe('gateway killed mid-stream', () => {
  it('every event ends in the log exactly once after a SIGKILL and a restart', async () => {
    const n = 3000;
    const enc = new TextEncoder();
    const ids = Array.from({ length: n }, () => randomUUID());
    const first = await startService('gateway', nats.url);
    gateways.push(first);
    const publishing = (async () => {
      for (let i = 0; i < n; i += 100) {
        const acks = await Promise.all(
          ids.slice(i, i + 100).map((id, j) =>
            store.publishRaw(
              'vnet.ext.VmDeleted',
              enc.encode(JSON.stringify({ type: 'VmDeleted', schemaVersion: 1, id, causationId: null, correlationId: id, occurredAt: new Date().toISOString(), payload: { vmId: `vm-${i + j}` } })),
            ),
          ),
        );
        assert.ok(acks.every(E.isRight));
      }
    })();
    // Kill it once it has stored part of the stream.
    await until(async () => ((await store.count('VNET_EVENTS')) >= n / 5 ? true : undefined), 'a fifth stored', 30_000);
    await first.stop('SIGKILL');
    const storedAtKill = await store.count('VNET_EVENTS');
    await publishing;
    const second = await startService('gateway', nats.url);
    gateways.push(second);
    await until(async () => ((await store.count('VNET_EVENTS')) >= n ? true : undefined), 'all stored', 60_000);
    await new Promise((r) => setTimeout(r, 500));
    const seen = new Map<string, number>();
    for await (const r of store.readAll()) seen.set(r.event.id, (seen.get(r.event.id) ?? 0) + 1);
    assert.ok(storedAtKill < n, `the kill happened mid-stream (${storedAtKill} of ${n} stored)`);
    assert.equal(seen.size, n, 'none lost');
    assert.ok([...seen.values()].every((c) => c === 1), 'none stored twice');
    assert.deepEqual([...seen.keys()].sort(), [...ids].sort());
  });
});
