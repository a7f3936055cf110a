import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as E from 'fp-ts/lib/Either.js';
import {
  decodeEvent,
  decodeEventBytes,
  encodeEvent,
  encodeEventBytes,
  EVENT_TYPES,
  formatDecodeFailure,
  type DecodeFailure,
  type DomainEvent,
} from '../src/index';
import { arbitraryDomainEvent, arbitraryEventOf } from '../src/testing/arbitraries';

const json = (ev: DomainEvent): Record<string, unknown> => JSON.parse(JSON.stringify(encodeEvent(ev))) as Record<string, unknown>;

function failureOf(input: unknown): DecodeFailure {
  const result = decodeEvent(input);
  if (E.isRight(result)) assert.fail(`expected a failure, decoded ${JSON.stringify(result.right)}`);
  return result.left;
}

const sample = <T>(arb: fc.Arbitrary<T>): T => fc.sample(arb, { numRuns: 1, seed: 42 })[0] as T;
const vmPlaced = json(sample(arbitraryEventOf('VmPlaced')));
const networkCreated = json(sample(arbitraryEventOf('NetworkCreated')));
const withPayload = (ev: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> => ({
  ...ev,
  payload: { ...(ev.payload as object), ...patch },
});

describe('codec round trip decode(encode(x)) = x', () => {
  for (const type of EVENT_TYPES) {
    it(`holds for every valid ${type}`, () =>
      fc.assert(fc.property(arbitraryEventOf(type), (ev) => assert.deepEqual(decodeEvent(json(ev)), E.right(ev)))));
  }
  it('holds through bytes for any event', () =>
    fc.assert(fc.property(arbitraryDomainEvent, (ev) => assert.deepEqual(decodeEventBytes(encodeEventBytes(ev)), E.right(ev)))));
});

describe('decodeEvent rejects, naming the field, the value and what was expected', () => {
  it('a VNI of 2^24', () => {
    const f = failureOf(withPayload(networkCreated, { vni: 2 ** 24 }));
    assert.deepEqual(f.problems.map((p) => [p.path, p.value, p.expected]), [['payload.vni', 16777216, 'Vni (integer 0..16777215)']]);
    assert.equal(formatDecodeFailure(f), 'payload.vni: got 16777216, expected Vni (integer 0..16777215)');
  });
  it('an IP of 10.0.0.256', () => {
    const [p, ...rest] = failureOf(withPayload(vmPlaced, { ip: '10.0.0.256' })).problems;
    assert.equal(rest.length, 0);
    assert.equal(p?.path, 'payload.ip');
    assert.equal(p?.value, '10.0.0.256');
    assert.match(p?.message ?? '', /^payload\.ip: got "10\.0\.0\.256", expected Ipv4 \(.*\); octet 256 is out of range 0\.\.255$/);
  });
  it('a CIDR with host bits set, saying what the network address would be', () => {
    const [p] = failureOf(withPayload(networkCreated, { cidr: '10.0.0.1/24' })).problems;
    assert.equal(p?.path, 'payload.cidr');
    assert.match(p?.expected ?? '', /^Cidr /);
    assert.match(p?.message ?? '', /the network address would be 10\.0\.0\.0 \(10\.0\.0\.0\/24\)/);
  });
  it('an unknown payload field (a typo of an external system)', () => {
    const f = failureOf(withPayload(vmPlaced, { vnii: 7 }));
    assert.deepEqual(f.problems.map((p) => [p.path, p.value, p.expected]), [['payload.vnii', 7, 'no such field']]);
    assert.match(formatDecodeFailure(f), /VmPlaced payload has no field "vnii" \(fields: vmId, networkId, vni, ip, hostId\)/);
  });
  it('an unknown envelope field', () => {
    assert.deepEqual(failureOf({ ...vmPlaced, tenant: 'x' }).problems.map((p) => p.path), ['tenant']);
  });
  it('an unknown event type, listing the known ones', () => {
    const f = failureOf({ ...vmPlaced, type: 'VmExploded' });
    assert.equal(f.problems[0]?.path, 'type');
    assert.equal(formatDecodeFailure(f), `type: got "VmExploded", expected one of ${EVENT_TYPES.join(', ')}`);
    assert.match(formatDecodeFailure(f), /^type: got "VmExploded", expected one of RegionDeclared, .*VmDeleted, .*HostVmDetached, .*TokenRejected, .*MigrationDeadlinePassed, .*AllocationRefused, .*ImageReplicationFailed, .*InstancesRequestFailed$/);
  });
  it('a schema version newer than the catalogue knows', () => {
    const f = failureOf({ ...vmPlaced, schemaVersion: 99 });
    assert.equal(f.problems[0]?.path, 'schemaVersion');
    assert.equal(
      formatDecodeFailure(f),
      'schemaVersion: got 99, expected 1; VmPlaced v99 is newer than this build of @vnet/events knows (current: v1); upgrade the reader',
    );
  });
  it('a schema version that is not a positive integer', () => {
    for (const v of [0, -1, 1.5, '1', undefined]) assert.equal(failureOf({ ...vmPlaced, schemaVersion: v }).problems[0]?.path, 'schemaVersion');
  });
  it('a bad causation id once, as "EventId or null" (no union noise)', () => {
    const f = failureOf({ ...vmPlaced, causationId: 'nope' });
    assert.deepEqual(f.problems.map((p) => [p.path, p.expected]), [['causationId', 'EventId (UUID, lowercase) or null']]);
  });
  it('missing fields, each on its own line', () => {
    const { id: _id, ...noId } = vmPlaced;
    const payload = { ...(vmPlaced.payload as Record<string, unknown>) };
    delete payload.hostId;
    const f = failureOf({ ...noId, payload });
    assert.deepEqual(f.problems.map((p) => p.path).sort(), ['id', 'payload.hostId']);
    assert.match(formatDecodeFailure(f), /^payload\.hostId: missing, expected HostId \(/m);
  });
  it('a payload that is not an object, once', () => {
    const f = failureOf({ ...json(sample(arbitraryEventOf('HostRegistered'))), payload: [] });
    assert.deepEqual(f.problems.map((p) => [p.path, p.expected]), [['payload', 'an object (HostRegistered payload)']]);
  });
  it('something that is not an event object', () => {
    for (const v of [null, 42, 'VmPlaced', [vmPlaced]]) assert.equal(failureOf(v).problems[0]?.path, '');
  });
});

describe('decodeEventBytes', () => {
  const fromBytes = (b: Uint8Array): string => {
    const r = decodeEventBytes(b);
    return E.isLeft(r) ? formatDecodeFailure(r.left) : 'decoded';
  };
  it('rejects bytes that are not UTF-8', () => assert.match(fromBytes(new Uint8Array([0x7b, 0xff, 0x7d])), /not valid UTF-8/));
  it('rejects text that is not JSON', () => assert.match(fromBytes(new TextEncoder().encode('{"type":')), /^\(event\): got "\{\\"type\\":", expected JSON; /));
  it('reports field problems of valid JSON like decodeEvent', () =>
    assert.match(fromBytes(new TextEncoder().encode(JSON.stringify({ ...vmPlaced, type: 'X' }))), /^type: got "X"/));
});
