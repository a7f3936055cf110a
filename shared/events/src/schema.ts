/**
 * JSON Schema (draft 2020-12) of what an external system may publish, derived by walking the
 * io-ts codecs, so it cannot disagree with `decodeEvent` about fields, required-ness or closed
 * objects. Brands become `$ref`s to `$defs` taken from `BRAND_DOCS` (the codecs' own regexes).
 * The committed copy is `schema/external-events.schema.json`; `scripts/gen-schema.ts` writes it.
 */
import * as t from 'io-ts';
import { BRAND_DOCS, type JsonSchema } from './brands';
import { CURRENT_VERSIONS, ENVELOPE_CODECS, EVENT_DESCRIPTIONS, EXTERNAL_EVENT_TYPES } from './catalogue';

/** `$id` of the generated document. */
export const EXTERNAL_SCHEMA_ID = 'urn:vnet:events:external-events';

type Walkable = t.Any & { readonly _tag?: string; readonly type?: t.Any; readonly types?: t.Any[]; readonly props?: t.Props; readonly value?: unknown };

interface ObjectShape {
  readonly properties: Record<string, JsonSchema>;
  readonly required: string[];
}

function objectShape(codec: Walkable, defs: Record<string, JsonSchema>): ObjectShape {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  switch (codec._tag) {
    case 'InterfaceType':
    case 'PartialType':
      for (const [key, prop] of Object.entries(codec.props ?? {})) {
        properties[key] = toSchema(prop as Walkable, defs);
        if (codec._tag === 'InterfaceType') required.push(key);
      }
      return { properties, required };
    case 'IntersectionType':
      for (const member of codec.types ?? []) {
        const shape = objectShape(member as Walkable, defs);
        Object.assign(properties, shape.properties);
        required.push(...shape.required);
      }
      return { properties, required };
    default:
      throw new Error(`schema: ${codec.name} (${codec._tag}) is not an object codec`);
  }
}

/**
 * The JSON Schema of one codec. Throws on a codec it cannot express (an unmapped brand, a
 * function…): that is a bug to fix here, not something to publish approximately.
 */
export function toSchema(codec: Walkable, defs: Record<string, JsonSchema>): JsonSchema {
  switch (codec._tag) {
    case 'RefinementType': {
      const doc = BRAND_DOCS[codec.name];
      if (!doc) throw new Error(`schema: no JSON Schema mapping for refinement ${codec.name} (add it to BRAND_DOCS)`);
      defs[codec.name] = doc.schema;
      return { $ref: `#/$defs/${codec.name}` };
    }
    case 'ExactType': {
      const { properties, required } = objectShape(codec.type as Walkable, defs);
      return { type: 'object', properties, required, additionalProperties: false };
    }
    case 'InterfaceType':
    case 'PartialType':
    case 'IntersectionType':
      return { type: 'object', ...objectShape(codec, defs) };
    case 'LiteralType':
      return { const: codec.value };
    case 'NullType':
      return { type: 'null' };
    case 'StringType':
      return { type: 'string' };
    case 'NumberType':
      return { type: 'number' };
    case 'BooleanType':
      return { type: 'boolean' };
    case 'ArrayType':
      return { type: 'array', items: toSchema(codec.type as Walkable, defs) };
    case 'UnionType':
      return { oneOf: (codec.types ?? []).map((m) => toSchema(m as Walkable, defs)) };
    default:
      throw new Error(`schema: cannot express ${codec.name} (${String(codec._tag)}) in JSON Schema`);
  }
}

function sortKeys(o: Record<string, JsonSchema>): Record<string, JsonSchema> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

/** The JSON Schema document: `oneOf` the current envelope of every external event type. */
export function buildExternalSchema(): JsonSchema {
  const defs: Record<string, JsonSchema> = {};
  const oneOf = EXTERNAL_EVENT_TYPES.map((type) => ({
    title: type,
    description: `${EVENT_DESCRIPTIONS[type]} Current schemaVersion: ${CURRENT_VERSIONS[type]}.`,
    ...toSchema(ENVELOPE_CODECS[type] as Walkable, defs),
  }));
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: EXTERNAL_SCHEMA_ID,
    title: 'vnet external events',
    description:
      'Events an external system may publish to vnet, as UTF-8 JSON. Generated from the io-ts codecs of @vnet/events; do not edit. ' +
      'Unknown fields are rejected. Write the current schemaVersion; the log also holds older versions, which readers upcast.',
    oneOf,
    $defs: sortKeys(defs),
  };
}

/** The committed text of the schema file: the document as 2-space JSON with a final newline. */
export function renderExternalSchema(): string {
  return `${JSON.stringify(buildExternalSchema(), null, 2)}\n`;
}
