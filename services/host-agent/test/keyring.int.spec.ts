/**
 * The host's keyring from a real log: keys sealed to this host open and stay by key id;
 * a key sealed to another host, or for another context, is refused and reported.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { decodeEvent, domainEventCodec, streamNameOf, type DomainEvent } from '@vnet/events';
import type { EventStore } from '@vnet/eventstore';
import { startTestNats, type TestNats } from '@vnet/eventstore/testing';
import { generateHostKeyPair, keyContext, sealKey } from '@vnet/tokens';
import { vnetTopology } from '@vnet/topology';
import { startKeyring } from '../src/adapters/keyring';

let nats: TestNats;
let store: EventStore<DomainEvent>;
const h1 = generateHostKeyPair();
const h2 = generateHostKeyPair();
const issuer = generateHostKeyPair();

/** A VmKeyIssued for `vmId` on `hostId`, its key sealed to `sealTo` under `context`. */
function keyIssued(vmId: string, hostId: string, keyId: number, key: Buffer, sealTo = h1.publicKey, context = keyContext(vmId, hostId, keyId)): DomainEvent {
  const id = crypto.randomUUID();
  const d = decodeEvent({
    type: 'VmKeyIssued',
    schemaVersion: 1,
    id,
    causationId: null,
    correlationId: id,
    occurredAt: new Date().toISOString(),
    payload: { vmId, hostId, keyId, reason: keyId === 1 ? 'placed' : 'rotated', sealedForHost: sealKey(key, sealTo, context), sealedForIssuer: sealKey(key, issuer.publicKey, context) },
  });
  if (E.isLeft(d)) throw new Error(JSON.stringify(d.left));
  return d.right;
}
async function append(...events: DomainEvent[]) {
  for (const e of events) assert.ok(E.isRight(await store.appendToStream(streamNameOf(e), [e])));
}

before(async () => {
  nats = await startTestNats(vnetTopology());
  store = await nats.connect(domainEventCodec, 'keyring-test');
});
after(async () => nats?.stop());

describe('host keyring', () => {
  it('opens the keys sealed to this host, keeps every key id, refuses the others', async () => {
    const k1 = randomBytes(32);
    const k2 = randomBytes(32);
    const kb = randomBytes(32);
    await append(keyIssued('a', 'h1', 1, k1));
    const errors: string[] = [];
    const ring = startKeyring({ store, hostId: 'h1', keys: h1, onError: (e) => errors.push(e.message) });
    try {
      await ring.until((r) => r.size() === 1);
      assert.deepEqual(ring.keyOf('a', 1), k1);
      await append(
        keyIssued('a', 'h1', 2, k2),
        keyIssued('b', 'h1', 1, kb, h2.publicKey), // sealed to another host's key
        keyIssued('c', 'h1', 1, kb, h1.publicKey, keyContext('c', 'h1', 7)), // sealed for another context
      );
      await ring.until((r) => r.size() === 2 && r.refused() === 2);
      assert.deepEqual(ring.keyOf('a', 1), k1, 'an earlier key stays for tokens made with it');
      assert.deepEqual(ring.keyOf('a', 2), k2);
      assert.equal(ring.keyOf('b', 1), undefined);
      assert.equal(ring.keyOf('c', 1), undefined);
      assert.deepEqual(ring.keyIds(), { a: [1, 2] });
      assert.equal(errors.length, 2);
      assert.match(errors[0]!, /key 1 of VM b .* does not open with this host's key: refused/);
    } finally {
      await ring.stop();
    }
  });

  it('after a rotation, keeps an older key only for the longest token lifetime after the newer one was issued', async () => {
    const keys = [1, 2, 3].map(() => randomBytes(32));
    await append(...keys.map((k, i) => keyIssued('d', 'h1', i + 1, k)));
    let now = Date.now();
    const ring = startKeyring({ store, hostId: 'h1', keys: h1, maxTokenLifetimeS: 600, now: () => now });
    try {
      await ring.until((r) => r.keyIds().d?.at(-1) === 3);
      assert.deepEqual(ring.keyIds().d, [1, 2, 3], 'within the lifetime: tokens made with the old keys still check');
      assert.deepEqual(ring.keyOf('d', 1), keys[0]);
      now += 601_000;
      assert.deepEqual(ring.keyIds().d, [3], 'one lifetime later only the newest key checks');
      assert.equal(ring.keyOf('d', 1), undefined);
      assert.equal(ring.keyOf('d', 2), undefined);
      assert.deepEqual(ring.keyOf('d', 3), keys[2]);
    } finally {
      await ring.stop();
    }
  });
});
