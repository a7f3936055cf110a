import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { MAX_EXTERNAL_EVENT_BYTES as MAX_EVENT_BYTES, validateExternal } from '../src/index';

const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const region = (payload: Record<string, unknown> = { regionId: 'eu-west', name: 'Europe West' }) => ({
  type: 'RegionDeclared',
  schemaVersion: 1,
  id: '6f1c1f0e-8f7a-4b8e-9a44-0d3f1c2b3a4d',
  causationId: null,
  correlationId: '6f1c1f0e-8f7a-4b8e-9a44-0d3f1c2b3a4d',
  occurredAt: '2026-11-25T10:00:00.000Z',
  payload,
});

describe('validateExternal', () => {
  it('accepts a valid external event', () => {
    const r = validateExternal('vnet.ext.RegionDeclared', enc(region()));
    assert.ok(E.isRight(r));
    assert.equal(r.right.type, 'RegionDeclared');
  });

  it('accepts any subject under vnet.ext that does not name another type', () => {
    assert.ok(E.isRight(validateExternal('vnet.ext.crm.sync', enc(region()))));
  });

  it('rejects a message over 1 MiB without parsing it', () => {
    const r = validateExternal('vnet.ext.RegionDeclared', new Uint8Array(MAX_EVENT_BYTES + 1));
    assert.ok(E.isLeft(r));
    assert.equal(r.left.kind, 'oversized');
    assert.match(r.left.reason, /1048577 bytes; the limit is 1048576/);
  });

  it('rejects bytes that are not JSON as malformed', () => {
    const r = validateExternal('vnet.ext.x', enc('{"type": "RegionDeclared",'));
    assert.ok(E.isLeft(r));
    assert.equal(r.left.kind, 'malformed');
  });

  it('rejects an invalid field, naming the path, the value and the expectation', () => {
    const r = validateExternal('vnet.ext.RegionDeclared', enc(region({ regionId: 'EU WEST', name: 'x' })));
    assert.ok(E.isLeft(r));
    assert.equal(r.left.kind, 'invalid');
    assert.match(r.left.reason, /payload\.regionId/);
    assert.match(r.left.reason, /EU WEST/);
  });

  it('rejects a subject that names another event type', () => {
    const r = validateExternal('vnet.ext.VmPlaced', enc(region()));
    assert.ok(E.isLeft(r));
    assert.equal(r.left.kind, 'subject-mismatch');
    assert.equal(r.left.eventId, region().id);
  });
});
