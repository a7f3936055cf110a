/**
 * The agent's migration part: it answers migration events (target ready, first packet,
 * forwarding ended) with the figures its data plane gives, under ids derived from the event
 * answered, so that a restarted agent answering again writes the same ids (stored once).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { newEvent, decodeEvent, type DomainEvent, type EventOf } from '@vnet/events';
import type { EventStore } from '@vnet/eventstore';
import type { DataPlane } from './dataplane';
import { migrationPart } from './migration';

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

function event<T extends DomainEvent['type']>(type: T, payload: Record<string, unknown>, atMs: number): EventOf<T> {
  const d = decodeEvent({ ...(newEvent(type as never, payload as never) as DomainEvent), occurredAt: iso(atMs) });
  if (E.isLeft(d)) throw new Error(`test event ${type}: ${JSON.stringify(d.left)}`);
  return d.right as EventOf<T>;
}

/** A store that records appends, and a data plane that records the calls and can fire the callbacks. */
function fakes() {
  const written: DomainEvent[] = [];
  const store = { appendToStream: async (_s: string, evs: DomainEvent[]) => (written.push(...evs), E.right({})) } as unknown as EventStore<DomainEvent>;
  const calls: string[] = [];
  let arrived: ((atMs: number, dropped: number) => void) | undefined;
  let ended: ((forwarded: number, dropped: number) => void) | undefined;
  const plane = {
    receiveMoved: (_m: unknown, a?: (atMs: number, dropped: number) => void) => (calls.push('receiveMoved'), a && (arrived = a)),
    forwardMoved: (_m: unknown, e: (forwarded: number, dropped: number) => void) => (calls.push('forwardMoved'), (ended = e)),
  } as unknown as DataPlane;
  return { written, store, plane, calls, arrive: () => arrived?.(T0 + 5, 1), end: () => ended?.(3, 2) };
}

const shared = (atMs: number) =>
  event(
    'VmKeyShared',
    {
      migrationId: 'm1', vmId: 'v1', hostId: 'h2', keyId: 2, vni: 1001, ip: '10.0.0.1', fromUnderlay: '127.0.1.1:6081',
      sealedForHost: { epk: `${'A'.repeat(43)}=`, nonce: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', box: 'AAAA' },
    },
    atMs,
  );
const moved = (atMs: number) =>
  event('VmMoved', { migrationId: 'm1', vmId: 'v1', vni: 1001, ip: '10.0.0.1', fromHostId: 'h1', toHostId: 'h2', fromUnderlay: '127.0.1.1:6081', toUnderlay: '127.0.1.2:6081', graceMs: 3000 }, atMs);
const settle = () => new Promise((r) => setImmediate(r));

describe('host agent migration part', () => {
  it('answers a key shared after it started: target ready, then the first packet with the drops before it', async () => {
    const f = fakes();
    const part = migrationPart({ store: f.store, hostId: 'h2', plane: () => f.plane, now: () => T0 });
    part.keyShared(shared(T0 + 1));
    f.arrive();
    await settle();
    assert.deepEqual(f.written.map((e) => e.type), ['MigrationTargetReady', 'MigrationTrafficArrived']);
    const a = f.written[1] as EventOf<'MigrationTrafficArrived'>;
    assert.equal(a.payload.dropped, 1);
    assert.equal(a.causationId, f.written[0]!.causationId);
  });

  it('a restarted agent reading the same events sets up its data plane again and answers with the same ids', async () => {
    const ev = shared(T0 + 1);
    const first = fakes();
    migrationPart({ store: first.store, hostId: 'h2', plane: () => first.plane, now: () => T0 }).keyShared(ev);
    first.arrive();
    const again = fakes();
    migrationPart({ store: again.store, hostId: 'h2', plane: () => again.plane, now: () => T0 + 2000 }).keyShared(ev);
    again.arrive();
    await settle();
    assert.deepEqual(again.calls, ['receiveMoved']);
    assert.deepEqual(again.written.map((e) => e.id), first.written.map((e) => e.id));
    // Another host answering the same event, or another event: other ids.
    const other = fakes();
    migrationPart({ store: other.store, hostId: 'h3', plane: () => other.plane, now: () => T0 }).keyShared(ev);
    await settle();
    assert.notEqual(other.written[0]!.id, first.written[0]!.id);
  });

  it('the source reports its forwarding with what it dropped', async () => {
    const src = fakes();
    migrationPart({ store: src.store, hostId: 'h1', plane: () => src.plane, now: () => T0 }).moved(moved(T0 + 10));
    src.end();
    await settle();
    assert.equal(src.written.length, 1);
    const e = src.written[0] as EventOf<'MigrationForwardingEnded'>;
    assert.deepEqual([e.type, e.payload.forwarded, e.payload.dropped], ['MigrationForwardingEnded', 3, 2]);
  });
});
