/**
 * `closed`: an object codec that REJECTS unknown fields.
 *
 * io-ts's `t.exact`/`t.strict` only strip unknown fields. For events published by external
 * systems, silently dropping `"vnii": 1001` hides a typo until something downstream breaks,
 * so every envelope and payload of the catalogue is closed: an unknown field is a decode
 * failure naming the field. The result is still an `ExactType` (tag, `.type`) so that the
 * JSON Schema generator sees it as `additionalProperties: false`.
 *
 * Validation first runs a single-pass check that allocates nothing and builds
 * no error details; only input it does not accept goes through io-ts (see {@link fastCheck}).
 *
 * The cost is forward compatibility: a producer cannot add a field before the catalogue
 * knows it. That is intended; a new field is a new schema version (see README).
 */
import * as t from 'io-ts';

/** Stand-in codec placed in the error context of an unknown field; it accepts nothing. */
export const NoSuchField = new t.Type<never, never, unknown>(
  'NoSuchField',
  (_u): _u is never => false,
  (u, c) => t.failure(u, c),
  (a) => a,
);

function isPlainObject(u: unknown): u is Record<string, unknown> {
  return typeof u === 'object' && u !== null && !Array.isArray(u);
}

/**
 * A fast accepting check: when it says true, the codec's `validate` would succeed with the
 * input itself (same reference), so the decoder may skip io-ts; false means only "ask io-ts",
 * which also builds the errors. Closed codecs register theirs in {@link fastCheck}.
 */
export type FastCheck = (u: unknown) => boolean;

const FAST_CHECKS = new WeakMap<t.Decoder<unknown, unknown>, FastCheck>();
const never: FastCheck = () => false;

type Inspectable = t.Decoder<unknown, unknown> & {
  readonly _tag?: string;
  readonly type?: t.Decoder<unknown, unknown> & { readonly _tag?: string };
  readonly types?: ReadonlyArray<t.Decoder<unknown, unknown>>;
  readonly predicate?: (u: unknown) => boolean;
  readonly value?: unknown;
};

function buildFastCheck(codec: Inspectable): FastCheck {
  switch (codec._tag) {
    case 'StringType':
      return (u) => typeof u === 'string';
    case 'NumberType':
      return (u) => typeof u === 'number';
    case 'BooleanType':
      return (u) => typeof u === 'boolean';
    case 'NullType':
      return (u) => u === null;
    case 'LiteralType': {
      const value = codec.value;
      return (u) => u === value;
    }
    case 'RefinementType': {
      // A brand of a string or number: io-ts validates the base, then the predicate.
      const p = codec.predicate;
      if (p === undefined) return never;
      if (codec.type?._tag === 'StringType') return (u) => typeof u === 'string' && p(u);
      if (codec.type?._tag === 'NumberType') return (u) => typeof u === 'number' && p(u);
      return never;
    }
    case 'ArrayType': {
      const inner = codec.type === undefined ? never : fastCheck(codec.type as t.Decoder<unknown, unknown>);
      return (u) => Array.isArray(u) && u.every(inner);
    }
    case 'UnionType': {
      const members = (codec.types ?? []).map(fastCheck);
      if (members.length === 2) {
        const [a = never, b = never] = members;
        return (u) => a(u) || b(u);
      }
      return (u) => members.some((m) => m(u));
    }
    default:
      return never;
  }
}

/** The {@link FastCheck} of a codec (`() => false` for codecs it does not understand). */
export function fastCheck(codec: t.Decoder<unknown, unknown>): FastCheck {
  let check = FAST_CHECKS.get(codec);
  if (check === undefined) {
    check = buildFastCheck(codec as Inspectable);
    FAST_CHECKS.set(codec, check);
  }
  return check;
}

interface Field {
  readonly check: FastCheck;
  readonly required: boolean;
}

/**
 * One pass over the keys, allocating nothing: every key known, every value accepted, every
 * required key seen. `for…in` (V8's fastest walk) also visits inherited enumerable keys, which
 * only makes it say no more often. It does not see non-enumerable own properties: io-ts would
 * drop an undeclared one from a copy, here the input comes back with it (JSON.parse makes none).
 */
function shapeCheck(required: t.Props, optional: t.Props): FastCheck {
  const fields: Record<string, Field> = Object.create(null) as Record<string, Field>;
  for (const [key, codec] of Object.entries(optional)) fields[key] = { check: fastCheck(codec), required: false };
  for (const [key, codec] of Object.entries(required)) fields[key] = { check: fastCheck(codec), required: true };
  const requiredCount = Object.keys(required).length;
  return (u) => {
    if (!isPlainObject(u)) return false;
    let seen = 0;
    for (const key in u) {
      const field = fields[key];
      if (field === undefined) return false;
      const value = u[key];
      if (field.required) {
        if (!field.check(value)) return false;
        seen++;
      } else if (value !== undefined && !field.check(value)) return false;
    }
    return seen === requiredCount;
  };
}

function close<C extends t.HasProps>(name: string, inner: C, required: t.Props, optional: t.Props): t.ExactC<C> {
  const keys = [...Object.keys(required), ...Object.keys(optional)];
  const exact = t.exact(inner, name);
  const allowed = new Set(keys);
  const excess = (u: Record<string, unknown>): string[] => Object.keys(u).filter((k) => !allowed.has(k));
  const fast = shapeCheck(required, optional);
  // The io-ts path: only taken when the fast check says no, so it mostly builds the errors.
  const slow = (u: unknown, c: t.Context): t.Validation<t.TypeOf<C>> => {
    const result = exact.validate(u, c);
    if (!isPlainObject(u)) return result;
    const extra = excess(u);
    if (extra.length === 0) return result;
    const errors: t.Errors = result._tag === 'Left' ? [...result.left] : [];
    for (const key of extra) {
      errors.push({
        value: u[key],
        context: [...c, { key, type: NoSuchField, actual: u[key] }],
        message: `${name} has no field "${key}" (fields: ${keys.join(', ')})`,
      });
    }
    return t.failures(errors);
  };
  const codec = new t.ExactType<C, t.TypeOf<C>, t.OutputOf<C>, unknown>(
    name,
    (u): u is t.TypeOf<C> => fast(u) || (exact.is(u) && isPlainObject(u) && excess(u).length === 0),
    (u, c) => (fast(u) ? t.success(u as t.TypeOf<C>) : slow(u, c)),
    exact.encode,
    inner,
  );
  FAST_CHECKS.set(codec, fast);
  return codec;
}

/** A closed object with only required fields. */
export function closed<R extends t.Props>(name: string, required: R): t.ExactC<t.TypeC<R>>;
/** A closed object with required and optional fields (an optional field may be absent, not null). */
export function closed<R extends t.Props, O extends t.Props>(
  name: string,
  required: R,
  optional: O,
): t.ExactC<t.IntersectionC<[t.TypeC<R>, t.PartialC<O>]>>;
export function closed(name: string, required: t.Props, optional?: t.Props): t.Mixed {
  if (optional === undefined) return close(name, t.type(required, name), required, {});
  return close(name, t.intersection([t.type(required, name), t.partial(optional, name)], name), required, optional);
}
