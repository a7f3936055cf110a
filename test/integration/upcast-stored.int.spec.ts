/**
 * Old events stay readable forever: a HostRegistered v1 stored in the log (as an older build
 * wrote it) is read back through the event store as the current version.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CURRENT_VERSIONS, domainEventCodec } from '@vnet/events';
import type { EventStore } from '@vnet/eventstore';
import { startTestNats, type TestNats } from '@vnet/eventstore/testing';
import { vnetTopology } from '@vnet/topology';

let nats: TestNats;
let store: EventStore<Parameters<typeof domainEventCodec.encode>[0]>;

before(async () => {
  nats = await startTestNats(vnetTopology());
  store = await nats.connect(domainEventCodec, 'upcast-test');
});
after(async () => nats?.stop());

describe('stored v1 events', () => {
  it('a HostRegistered v1 in the log is read as the current version', async () => {
    const v1 = {
      type: 'HostRegistered',
      schemaVersion: 1,
      id: '3f0c2a9e-5b1d-4c7e-8a2f-9d6b1e4c7a10',
      causationId: null,
      correlationId: '3f0c2a9e-5b1d-4c7e-8a2f-9d6b1e4c7a10',
      occurredAt: '2025-06-01T12:00:00.000Z',
      payload: { hostId: 'old-h1', regionId: 'eu-west', datacenterId: 'eu-west-1a', address: '127.0.1.9:6081', publicKey: Buffer.alloc(32, 7).toString('base64') },
    };
    // Written as raw bytes, the way a v1 producer put it in the log.
    const w = await store.publishRaw('vnet.evt.host.old-h1', new TextEncoder().encode(JSON.stringify(v1)), { msgId: v1.id });
    assert.ok(w._tag === 'Right');
    const read = [];
    for await (const r of store.readStream('host.old-h1')) read.push(r.event);
    assert.equal(read.length, 1);
    const ev = read[0]!;
    assert.equal(ev.type, 'HostRegistered');
    assert.equal(ev.schemaVersion, CURRENT_VERSIONS.HostRegistered);
    assert.ok(ev.type === 'HostRegistered' && ev.payload.underlay === '127.0.1.9:6081');
    assert.ok(!('address' in ev.payload));
  });
});
