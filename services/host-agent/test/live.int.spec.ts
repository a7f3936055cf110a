/**
 * The agent's live readers (keyring, pair flow) against a real log: an event whose handling
 * throws is reported and skipped, a record this build cannot decode is reported and
 * skipped, and the reader goes on with what follows, each event handled once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { DisplayName, domainEventCodec, mustDecode, newEvent, RegionId, streamNameOf, type DomainEvent } from '@vnet/events';
import type { EventStore } from '@vnet/eventstore';
import { startTestNats, until, type TestNats } from '@vnet/eventstore/testing';
import { vnetTopology } from '@vnet/topology';
import { startLiveReader } from '../src/adapters/live';

let nats: TestNats;
let store: EventStore<DomainEvent>;
const region = (id: string) => newEvent('RegionDeclared', { regionId: mustDecode(RegionId, id), name: mustDecode(DisplayName, id) });

before(async () => {
  nats = await startTestNats(vnetTopology());
  store = await nats.connect(domainEventCodec, 'live-test');
});
after(async () => nats?.stop());

describe('live reader', () => {
  it('skips (and reports) an event its handler throws on and a record it cannot decode, and reads on', async () => {
    const append = async (ev: DomainEvent) => assert.ok(E.isRight(await store.appendToStream(streamNameOf(ev), [ev])));
    await append(region('live-a'));
    await append(region('live-boom'));
    const raw = await nats.connectJson('live-raw');
    assert.ok(E.isRight(await raw.publishRaw('vnet.evt.region.live-junk', new TextEncoder().encode('not an event'))));
    await append(region('live-b'));
    const seen: string[] = [];
    const errors: string[] = [];
    const reader = startLiveReader({ store, filter: 'vnet.evt.region.>', retryMs: 100, onError: (e) => errors.push(e.message) }, (r) => {
      const id = (r.event.payload as { regionId: string }).regionId;
      if (id === 'live-boom') throw new Error('handler failed');
      seen.push(id);
    });
    try {
      await until(async () => (seen.includes('live-b') ? true : undefined), 'the event after the bad ones', 10_000);
      await append(region('live-c')); // and it is still live
      await until(async () => (seen.includes('live-c') ? true : undefined), 'a later event', 10_000);
      assert.deepEqual(seen, ['live-a', 'live-b', 'live-c'], 'each good event once, in order');
      assert.equal(errors.length, 2, errors.join('\n'));
      assert.match(errors[0]!, /position \d+ could not be handled \(handler failed\); skipped/);
      assert.match(errors[1]!, /cannot be decoded.*skipped/);
      assert.equal(reader.down(), false);
      assert.equal(reader.restarts(), 1, 'the undecodable record restarted the read past it');
    } finally {
      await reader.stop();
    }
  });
});
