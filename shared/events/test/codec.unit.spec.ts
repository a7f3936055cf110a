import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import fc from 'fast-check';
import { domainEventCodec } from '../src/index';
import { arbitraryDomainEvent } from '../src/testing/arbitraries';

describe('domainEventCodec (the event store codec)', () => {
  it('round-trips every event through bytes', () => {
    fc.assert(
      fc.property(arbitraryDomainEvent, (ev) => {
        const back = domainEventCodec.decode(domainEventCodec.encode(ev));
        assert.ok(E.isRight(back));
        assert.deepEqual(back.right, ev);
      }),
    );
  });

  it('gives a readable reason for bytes that are not an event', () => {
    const r = domainEventCodec.decode(new TextEncoder().encode('{"type":"VmPlaced"}'));
    assert.ok(E.isLeft(r));
    assert.match(r.left, /schemaVersion|payload|id/);
  });
});
