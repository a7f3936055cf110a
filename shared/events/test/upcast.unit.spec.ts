import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as E from 'fp-ts/lib/Either.js';
import {
  CURRENT_VERSIONS,
  decodeEvent,
  decodeEventBytes,
  encodeEvent,
  EVENT_TYPES,
  formatDecodeFailure,
  UPCASTERS,
  type EventOf,
} from '../src/index';
import { arbitraryEventOf } from '../src/testing/arbitraries';

// A HostRegistered event as the first release wrote it to the log (schema version 1).
const STORED_V1 = `{"type":"HostRegistered","schemaVersion":1,"id":"5b0a7f1e-2c43-4d9a-9a57-0c3c1b6e2f10","causationId":null,"correlationId":"5b0a7f1e-2c43-4d9a-9a57-0c3c1b6e2f10","occurredAt":"2025-01-15T09:30:00.000Z","payload":{"hostId":"h1","regionId":"eu-west","datacenterId":"eu-west-1a","address":"192.0.2.10:6081","publicKey":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="}}`;

describe('HostRegistered v1 → v2 upcast', () => {
  it('reads a stored v1 event as the current version', () => {
    const decoded = decodeEventBytes(new TextEncoder().encode(STORED_V1));
    assert.deepEqual(
      decoded,
      E.right({
        type: 'HostRegistered',
        schemaVersion: 2,
        id: '5b0a7f1e-2c43-4d9a-9a57-0c3c1b6e2f10',
        causationId: null,
        correlationId: '5b0a7f1e-2c43-4d9a-9a57-0c3c1b6e2f10',
        occurredAt: '2025-01-15T09:30:00.000Z',
        payload: {
          hostId: 'h1',
          regionId: 'eu-west',
          datacenterId: 'eu-west-1a',
          underlay: '192.0.2.10:6081',
          publicKey: 'BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=',
        },
      }),
    );
  });

  it('gives back any capacity-less v2 event written in the v1 shape', () =>
    fc.assert(
      fc.property(arbitraryEventOf('HostRegistered'), (ev) => {
        const { capacity: _dropped, underlay, ...rest } = ev.payload;
        const v1 = { ...(encodeEvent(ev) as object), schemaVersion: 1, payload: { ...rest, address: underlay } };
        const expected: EventOf<'HostRegistered'> = { ...ev, payload: { ...rest, underlay } };
        assert.deepEqual(decodeEvent(v1), E.right(expected));
      }),
    ));

  it('validates the old payload with the v1 field names', () => {
    const stored = JSON.parse(STORED_V1) as { payload: Record<string, unknown> };
    const bad = { ...stored, payload: { ...stored.payload, address: '192.0.2.10' } };
    const result = decodeEvent(bad);
    assert.ok(E.isLeft(result));
    assert.match(formatDecodeFailure(result.left), /^payload\.address: got "192\.0\.2\.10", expected UnderlayAddress \(/);
  });

  it('rejects a v1 event that already uses the v2 name (it would lose the address)', () => {
    const stored = JSON.parse(STORED_V1) as { payload: Record<string, unknown> };
    const { address, ...rest } = stored.payload;
    const result = decodeEvent({ ...stored, payload: { ...rest, underlay: address } });
    assert.ok(E.isLeft(result));
    assert.deepEqual(result.left.problems.map((p) => p.path).sort(), ['payload.address', 'payload.underlay']);
  });
});

describe('the upcaster chains', () => {
  it('have one step for every version below the current one, and none beyond', () => {
    for (const type of EVENT_TYPES) {
      const froms = UPCASTERS.filter((u) => u.type === type).map((u) => u.from).sort((a, b) => a - b);
      const expected = Array.from({ length: CURRENT_VERSIONS[type] - 1 }, (_, i) => i + 1);
      assert.deepEqual(froms, expected, `${type} is at v${CURRENT_VERSIONS[type]}`);
    }
  });
  it('make HostRegistered version 2', () => assert.equal(CURRENT_VERSIONS.HostRegistered, 2));
});
