import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import * as t from 'io-ts';
import * as E from 'fp-ts/lib/Either.js';
import {
  buildExternalSchema,
  CURRENT_VERSIONS,
  decodeEvent,
  encodeEvent,
  EXTERNAL_EVENT_TYPES,
  renderExternalSchema,
  type DomainEvent,
  type JsonSchema,
} from '../src/index';
import { toSchema } from '../src/schema';
import { arbitraryDomainEvent, arbitraryEventOf, arbitraryExternalEvent } from '../src/testing/arbitraries';

const SCHEMA_FILE = fileURLToPath(new URL('../schema/external-events.schema.json', import.meta.url));

/**
 * A tiny validator for exactly the keywords the generator emits, so the test can check that
 * the schema and decodeEvent accept the same documents. It fails on any other keyword.
 */
function validates(root: JsonSchema, schema: JsonSchema, v: unknown): boolean {
  const known = ['$ref', 'oneOf', 'const', 'type', 'items', 'properties', 'required', 'additionalProperties', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'title', 'description', 'format', '$schema', '$id', '$defs'];
  for (const k of Object.keys(schema)) if (!known.includes(k)) throw new Error(`validator: unsupported keyword ${k}`);
  const s = schema as Record<string, any>;
  if (s.$ref) return validates(root, (root.$defs as Record<string, JsonSchema>)[String(s.$ref).replace('#/$defs/', '')]!, v);
  if (s.oneOf) return (s.oneOf as JsonSchema[]).filter((m) => validates(root, m, v)).length === 1;
  if ('const' in s && v !== s.const) return false;
  if (s.type === 'null' && v !== null) return false;
  if (s.type === 'string') {
    if (typeof v !== 'string') return false;
    if (s.pattern && !new RegExp(s.pattern, 'u').test(v)) return false;
    if (s.minLength !== undefined && [...v].length < s.minLength) return false;
    if (s.maxLength !== undefined && [...v].length > s.maxLength) return false;
  }
  if (s.type === 'integer' || s.type === 'number') {
    if (typeof v !== 'number' || (s.type === 'integer' && !Number.isInteger(v))) return false;
    if ((s.minimum !== undefined && v < s.minimum) || (s.maximum !== undefined && v > s.maximum)) return false;
  }
  if (s.type === 'array') return Array.isArray(v) && v.every((x) => validates(root, s.items as JsonSchema, x));
  if (s.type === 'object') {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
    const o = v as Record<string, unknown>;
    if ((s.required as string[]).some((k) => !(k in o))) return false;
    if (s.additionalProperties === false && Object.keys(o).some((k) => !(k in s.properties))) return false;
    return Object.entries(o).every(([k, x]) => !(k in s.properties) || validates(root, s.properties[k], x));
  }
  return true;
}

const schema = buildExternalSchema();
const bySchema = (v: unknown): boolean => validates(schema, schema, v);
const byDecoder = (v: unknown): boolean => E.isRight(decodeEvent(v));
const json = (ev: DomainEvent): Record<string, any> => JSON.parse(JSON.stringify(encodeEvent(ev)));
const sample = <T>(arb: fc.Arbitrary<T>): T => fc.sample(arb, { numRuns: 1, seed: 7 })[0] as T;

describe('schema/external-events.schema.json', () => {
  it('is what the generator produces now', () => {
    const committed = readFileSync(SCHEMA_FILE, 'utf8');
    assert.ok(
      committed === renderExternalSchema(),
      'shared/events/schema/external-events.schema.json is out of date with the io-ts codecs. ' +
        'Regenerate it with `npx nx run events:gen-schema` (or `npx tsx shared/events/scripts/gen-schema.ts`) and commit it.',
    );
  });

  it('is draft 2020-12 with one envelope per external event type at its current version', () => {
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    const envelopes = schema.oneOf as Array<Record<string, any>>;
    assert.deepEqual(envelopes.map((e) => e.properties.type.const), [...EXTERNAL_EVENT_TYPES]);
    for (const e of envelopes) {
      assert.equal(e.properties.schemaVersion.const, CURRENT_VERSIONS[e.properties.type.const as keyof typeof CURRENT_VERSIONS]);
      assert.equal(e.additionalProperties, false);
      assert.equal(e.properties.payload.additionalProperties, false);
    }
    const host = envelopes.find((e) => e.title === 'HostRegistered')!;
    assert.deepEqual(host.properties.payload.required, ['hostId', 'regionId', 'datacenterId', 'underlay', 'publicKey']);
    assert.equal(host.properties.payload.properties.capacity.additionalProperties, false);
  });

  it('accepts every external event the decoder accepts', () => fc.assert(fc.property(arbitraryExternalEvent, (ev) => bySchema(json(ev)))));

  it('describes no internal event: those are rejected by the schema though the decoder accepts them', () =>
    fc.assert(
      fc.property(
        arbitraryDomainEvent.filter((ev) => !(EXTERNAL_EVENT_TYPES as readonly string[]).includes(ev.type)),
        (ev) => byDecoder(json(ev)) && !bySchema(json(ev)),
      ),
    ));

  it('rejects what the decoder rejects', () => {
    const vm = json(sample(arbitraryEventOf('VmPlaced')));
    const net = json(sample(arbitraryEventOf('NetworkCreated')));
    const bad: Array<[string, unknown]> = [
      ['VNI 2^24', { ...net, payload: { ...net.payload, vni: 2 ** 24 } }],
      ['IP 10.0.0.256', { ...vm, payload: { ...vm.payload, ip: '10.0.0.256' } }],
      ['unknown payload field', { ...vm, payload: { ...vm.payload, vnii: 1 } }],
      ['unknown envelope field', { ...vm, extra: true }],
      ['unknown type', { ...vm, type: 'VmExploded' }],
      ['schema version 99', { ...vm, schemaVersion: 99 }],
      ['missing payload', { ...vm, payload: undefined }],
      ['bad causation id', { ...vm, causationId: 'x' }],
      ['dotted id', { ...vm, payload: { ...vm.payload, vmId: 'a.b' } }],
    ];
    for (const [what, v] of bad) {
      assert.equal(byDecoder(v), false, `decoder accepted ${what}`);
      assert.equal(bySchema(JSON.parse(JSON.stringify(v))), false, `schema accepted ${what}`);
    }
  });

  it('leaves to its descriptions only the checks a pattern cannot express', () => {
    const net = json(sample(arbitraryEventOf('NetworkCreated')));
    const hostBits = { ...net, payload: { ...net.payload, cidr: '10.0.0.1/24' } };
    const noSuchDay = { ...net, occurredAt: '2025-02-30T00:00:00Z' };
    for (const v of [hostBits, noSuchDay]) assert.deepEqual([bySchema(v), byDecoder(v)], [true, false]);
    const defs = schema.$defs as Record<string, { description: string }>;
    assert.match(defs.Cidr!.description, /must be the network address/);
    assert.match(defs.IsoTimestamp!.description, /day must exist/);
  });

  it('refuses a brand it has no mapping for instead of guessing', () => {
    interface OddBrand { readonly Odd: unique symbol }
    const Odd = t.brand(t.string, (s): s is t.Branded<string, OddBrand> => s.length === 3, 'Odd');
    assert.throws(() => toSchema(Odd, {}), /no JSON Schema mapping for refinement Odd/);
  });
});
