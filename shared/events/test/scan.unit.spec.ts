/**
 * The fast paths agree with the slow ones: every hand-written scanner of `scan.ts` accepts
 * exactly what its regex (the JSON Schema pattern) accepts, and a closed codec's fast check
 * only says yes where io-ts would give the very input back.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as t from 'io-ts';
import * as E from 'fp-ts/lib/Either.js';
import { fastCheck } from '../src/closed';
import { AGGREGATE_ID_PATTERN, ISO_TIMESTAMP_PATTERN, UUID_PATTERN } from '../src/ids';
import { cidrHostBitsFix, CIDR_PATTERN, IPV4_PATTERN, PUBLIC_KEY_PATTERN, UNDERLAY_ADDRESS_PATTERN } from '../src/net';
import { ipv4At, isAggregateId, isCidrScan, isIsoTimestampScan, isPublicKeyScan, isUnderlayAddressScan, isUuid } from '../src/scan';
import { decodeEvent, ENVELOPE_CODECS, EVENT_TYPES, HostCapacity, PAYLOAD_CODECS } from '../src/index';
import { arbitraryDomainEvent } from '../src/testing/arbitraries';

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** The timestamp check as it was written before `scan.ts`: regex, Date.parse, days per month. */
function referenceIsoTimestamp(s: string): boolean {
  if (!ISO_TIMESTAMP_PATTERN.test(s) || !Number.isFinite(Date.parse(s))) return false;
  const [year, month, day] = [Number(s.slice(0, 4)), Number(s.slice(5, 7)), Number(s.slice(8, 10))];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return day <= (month === 2 && leap ? 29 : (DAYS[month - 1] ?? 0));
}

/** Valid strings, and strings one edit away from valid ones (a character changed, added or dropped). */
function nearly(valid: fc.Arbitrary<string>, alphabet: string): fc.Arbitrary<string> {
  const char = fc.constantFrom(...alphabet, 'A', 'é', '\n', '\u0000', '\ud800', ' ');
  const edit = fc.tuple(valid, fc.nat(), char, fc.constantFrom('set', 'insert', 'delete', 'cut')).map(([s, at, c, op]) => {
    const i = s.length === 0 ? 0 : at % s.length;
    if (op === 'set') return s.slice(0, i) + c + s.slice(i + 1);
    if (op === 'insert') return s.slice(0, i) + c + s.slice(i);
    return op === 'delete' ? s.slice(0, i) + s.slice(i + 1) : s.slice(0, i);
  });
  return fc.oneof(valid, edit, fc.string({ unit: char, maxLength: 40 }));
}

function agree(name: string, scan: (s: string) => boolean, reference: (s: string) => boolean, strings: fc.Arbitrary<string>, edge: string[]): void {
  it(`${name} agrees with its regex`, () => {
    for (const s of edge) assert.equal(scan(s), reference(s), JSON.stringify(s));
    fc.assert(fc.property(strings, (s) => scan(s) === reference(s)), { numRuns: 3000 });
  });
}

describe('hand-written scanners', () => {
  agree('isUuid', isUuid, (s) => UUID_PATTERN.test(s), nearly(fc.uuid(), '0123456789abcdef-'), ['', '-'.repeat(36), `${'0'.repeat(36)}`]);
  agree('isAggregateId', isAggregateId, (s) => AGGREGATE_ID_PATTERN.test(s), nearly(fc.stringMatching(AGGREGATE_ID_PATTERN), 'az09_-.'), [
    '', 'a'.repeat(63), 'a'.repeat(64), '_a', '-', 'a\n',
  ]);
  const instant = fc.date({ min: new Date(-62167219200000), max: new Date(253402300799999), noInvalidDate: true });
  const stamps = fc.oneof(
    instant.map((d) => d.toISOString()),
    fc.stringMatching(ISO_TIMESTAMP_PATTERN),
    fc.tuple(instant, fc.stringMatching(/^(\.[0-9]{1,10})?(Z|[+-][0-9]{2}:[0-9]{2})$/)).map(([d, z]) => d.toISOString().slice(0, 19) + z),
  );
  agree('isIsoTimestampScan', isIsoTimestampScan, referenceIsoTimestamp, nearly(stamps, '0123456789-:T.Z+'), [
    '2024-02-29T00:00:00Z', '2023-02-29T00:00:00Z', '1900-02-29T00:00:00Z', '2000-02-29T00:00:00Z', '0000-01-01T00:00:00Z',
    '9999-12-31T23:59:59.999999999-23:59', '2024-04-31T00:00:00Z', '2024-01-01T00:00:00.Z', '2024-01-01T00:00:00.1234567890Z',
    '2024-01-01T00:00:00.12Z', '2024-01-01T00:00:00+24:00', '2024-01-01T00:00:60Z', '2024-01-01T00:00:00z', '2024-01-01T00:00:00ZZ',
  ]);
  const octet = fc.integer({ min: 0, max: 300 }).map(String);
  const quad = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
  agree('ipv4At', (s) => ipv4At(s, 0, s.length) >= 0, (s) => IPV4_PATTERN.test(s), nearly(fc.oneof(fc.ipV4(), quad), '0123456789.'), [
    '0.0.0.0', '255.255.255.255', '256.0.0.0', '01.0.0.0', '1.2.3', '1.2.3.4.', '.1.2.3.4', '1..2.3', '1000.0.0.0',
  ]);
  const cidr = fc.tuple(fc.oneof(fc.ipV4(), quad), fc.integer({ min: 0, max: 40 })).map(([ip, p]) => `${ip}/${p}`);
  agree('isCidrScan', isCidrScan, (s) => CIDR_PATTERN.test(s) && cidrHostBitsFix(s) === undefined, nearly(cidr, '0123456789./'), [
    '0.0.0.0/0', '10.0.0.0/8', '10.0.0.1/32', '10.0.0.1/31', '10.0.0.0/08', '10.0.0.0/', '/8', '10.0.0.0/8/8',
  ]);
  const host = fc.oneof(fc.ipV4(), quad, fc.domain(), fc.stringMatching(/^[a-z0-9-]{1,8}(\.[a-z0-9-]{1,8}){0,3}$/));
  const underlay = fc.tuple(host, fc.integer({ min: 0, max: 70000 })).map(([h, p]) => `${h}:${p}`);
  agree('isUnderlayAddressScan', isUnderlayAddressScan, (s) => UNDERLAY_ADDRESS_PATTERN.test(s), nearly(underlay, 'az09-.:'), [
    ':80', 'a:', 'a:0', 'a:65535', 'a:65536', 'a:080', '1.2.3.4:1', '1.2.3.256:1', '1.2.3:1', 'a-.b:1', 'a.-b:1', '9.9:1',
    `${'a'.repeat(63)}.b:1`, `${'a'.repeat(64)}.b:1`, `${'a.'.repeat(125)}abc:80`, `${'a.'.repeat(126)}a:80`, `${'a.'.repeat(126)}ab:80`, `${'a.'.repeat(127)}ab:80`,
  ]);
  const key = fc.uint8Array({ minLength: 30, maxLength: 34 }).map((b) => btoa(String.fromCharCode(...b)));
  agree('isPublicKeyScan', isPublicKeyScan, (s) => PUBLIC_KEY_PATTERN.test(s), nearly(key, 'AB+/=09zw'), [`${'A'.repeat(43)}=`, `${'A'.repeat(42)}B=`]);
});

/** Mutations of an encoded event: a field (envelope or payload) set, added or removed. */
const POOL: unknown[] = [undefined, null, 0, -1, 1.5, 2 ** 24, 'x', '', '10.0.0.1', 'h1', [], {}, { cpus: 1, memoryMiB: 1 }, { cpus: 1 }, true];
const mutated = fc
  .tuple(arbitraryDomainEvent, fc.boolean(), fc.nat(), fc.constantFrom(...POOL), fc.boolean())
  .map(([ev, inPayload, at, value, remove]) => {
    const json = JSON.parse(JSON.stringify(ev)) as Record<string, unknown>;
    const target = inPayload ? (json.payload as Record<string, unknown>) : json;
    const keys = [...Object.keys(target), 'extra', 'capacity', 'reason'];
    const k = keys[at % keys.length] as string;
    if (remove) delete target[k];
    else target[k] = value;
    return json;
  });

describe('the fast check of closed codecs', () => {
  const codecs: t.Mixed[] = [...EVENT_TYPES.map((k) => ENVELOPE_CODECS[k]), ...Object.values(PAYLOAD_CODECS), HostCapacity];
  it('says yes only where io-ts gives the input itself back, and always for valid events', () =>
    fc.assert(
      fc.property(fc.oneof(arbitraryDomainEvent, mutated), fc.boolean(), (ev, payloadOnly) => {
        const u = payloadOnly ? (ev as { payload: unknown }).payload : ev;
        for (const codec of codecs) {
          if (!fastCheck(codec)(u)) continue;
          const inner = t.exact((codec as t.Mixed & { type: t.HasProps }).type).validate(u, []);
          assert.ok(E.isRight(inner) && inner.right === u, codec.name);
        }
      }),
      { numRuns: 2000 },
    ));
  it('accepts every valid event without copying it', () =>
    fc.assert(fc.property(arbitraryDomainEvent, (ev) => {
      const r = decodeEvent(ev);
      assert.ok(E.isRight(r) && r.right === ev);
    })));
});
