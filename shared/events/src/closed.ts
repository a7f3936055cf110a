/**
 * `closed`: an object codec that REJECTS unknown fields.
 *
 * io-ts's `t.exact`/`t.strict` only strip unknown fields. For events published by external
 * systems, silently dropping `"vnii": 1001` hides a typo until something downstream breaks,
 * so every envelope and payload of the catalogue is closed: an unknown field is a decode
 * failure naming the field. The result is still an `ExactType` (tag, `.type`) so that the
 * JSON Schema generator sees it as `additionalProperties: false`.
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

function close<C extends t.HasProps>(name: string, inner: C, keys: readonly string[]): t.ExactC<C> {
  const exact = t.exact(inner, name);
  const allowed = new Set(keys);
  const excess = (u: Record<string, unknown>): string[] => Object.keys(u).filter((k) => !allowed.has(k));
  return new t.ExactType<C, t.TypeOf<C>, t.OutputOf<C>, unknown>(
    name,
    (u): u is t.TypeOf<C> => exact.is(u) && isPlainObject(u) && excess(u).length === 0,
    (u, c) => {
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
    },
    exact.encode,
    inner,
  );
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
  const keys = [...Object.keys(required), ...Object.keys(optional ?? {})];
  if (optional === undefined) return close(name, t.type(required, name), keys);
  return close(name, t.intersection([t.type(required, name), t.partial(optional, name)], name), keys);
}
