/**
 * Decode failures as values, and the io-ts reporter that builds them.
 *
 * io-ts reports an error as the chain of codecs it went through; for a person (or an external
 * publisher reading a rejection) only the field path matters. The reporter keeps the keys of
 * object fields and drops the member indexes of unions and intersections, and it names the
 * expected type by the codec of the deepest field, so `causationId: "x"` gives one problem
 * ("expected EventId (UUID, lowercase) or null"), not one per union member.
 */
import * as t from 'io-ts';
import { BRAND_DOCS } from './brands';
import { NoSuchField } from './closed';

/** One thing wrong with a decoded value. */
export interface DecodeProblem {
  /** Field path from the envelope, dot-separated (`payload.vni`); `''` for the whole input. */
  readonly path: string;
  /** The offending value (`undefined` when the field is missing). */
  readonly value: unknown;
  /** What would have been accepted, e.g. `Vni (integer 0..16777215)`. */
  readonly expected: string;
  /** One readable line: `payload.vni: got 16777216, expected Vni (integer 0..16777215)`. */
  readonly message: string;
}

/** Why bytes or JSON did not decode into a {@link DomainEvent}. An expected failure, not a bug. */
export interface DecodeFailure {
  readonly _tag: 'DecodeFailure';
  /** At least one problem. */
  readonly problems: ReadonlyArray<DecodeProblem>;
}

/** Renders a value for a message: JSON, cut to 80 characters. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  let s: string;
  try {
    s = typeof value === 'bigint' ? `${value}n` : (JSON.stringify(value) ?? String(value));
  } catch {
    s = String(value);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Builds one problem; `detail` says more than the expectation when there is more to say. */
export function decodeProblem(path: string, value: unknown, expected: string, detail?: string): DecodeProblem {
  const where = path === '' ? '(event)' : path;
  const got = value === undefined ? 'missing' : `got ${showValue(value)}`;
  const message = `${where}: ${got}, expected ${expected}${detail === undefined ? '' : `; ${detail}`}`;
  return { path, value, expected, message };
}

/** Wraps problems into a failure. */
export function decodeFailure(problems: ReadonlyArray<DecodeProblem>): DecodeFailure {
  return { _tag: 'DecodeFailure', problems };
}

/** True for a {@link DecodeFailure} value. */
export function isDecodeFailure(u: unknown): u is DecodeFailure {
  return typeof u === 'object' && u !== null && (u as { _tag?: unknown })._tag === 'DecodeFailure';
}

/** One line per problem, for logs and for the error an external publisher receives. */
export function formatDecodeFailure(failure: DecodeFailure): string {
  return failure.problems.map((p) => p.message).join('\n');
}

type AnyDecoder = t.Decoder<unknown, unknown> & { readonly _tag?: string; readonly type?: unknown; readonly types?: unknown; readonly value?: unknown };

/** The codec behind exact/refinement/readonly wrappers (a brand is itself: it has a name to show). */
function unwrap(codec: AnyDecoder): AnyDecoder {
  let c = codec;
  while ((c._tag === 'ExactType' || c._tag === 'ReadonlyType' || (c._tag === 'RefinementType' && !(c.name in BRAND_DOCS))) && c.type) {
    c = c.type as AnyDecoder;
  }
  return c;
}

/** Human name of what a codec accepts: `Vni (integer 0..16777215)`, `"VmPlaced"`, `EventId (…) or null`. */
export function describeExpected(codec: t.Decoder<unknown, unknown>): string {
  const c = codec as AnyDecoder;
  const doc = BRAND_DOCS[c.name];
  if (c._tag === 'RefinementType' && doc) return `${c.name} (${doc.summary})`;
  if (c === NoSuchField) return 'no such field';
  const inner = unwrap(c);
  switch (inner._tag) {
    case 'LiteralType':
      return showValue(inner.value);
    case 'NullType':
      return 'null';
    case 'StringType':
      return 'a string';
    case 'NumberType':
      return 'a number';
    case 'UnionType':
      return (inner.types as AnyDecoder[]).map(describeExpected).join(' or ');
    case 'InterfaceType':
    case 'PartialType':
    case 'IntersectionType':
      return `an object (${c.name})`;
    default:
      return c.name;
  }
}

function isMemberIndex(parent: AnyDecoder): boolean {
  const p = unwrap(parent);
  return p._tag === 'UnionType' || p._tag === 'IntersectionType';
}

/** Turns io-ts errors into problems; `prefix` is prepended to every path (e.g. `['payload']`). */
export function problemsOf(errors: t.Errors, prefix: ReadonlyArray<string> = []): DecodeProblem[] {
  const seen = new Set<string>();
  const out: DecodeProblem[] = [];
  for (const error of errors) {
    const path = [...prefix];
    let field: t.ContextEntry | undefined = error.context[0];
    for (let i = 1; i < error.context.length; i++) {
      const entry = error.context[i];
      const parent = error.context[i - 1];
      if (!entry || !parent || isMemberIndex(parent.type as AnyDecoder)) continue;
      path.push(entry.key);
      field = entry;
    }
    if (!field) continue;
    const expected = describeExpected(field.type as t.Decoder<unknown, unknown>);
    const value = field === error.context[error.context.length - 1] ? error.value : field.actual;
    const key = `${path.join('.')}\u0000${expected}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const detail = error.message ?? BRAND_DOCS[field.type.name]?.explain?.(value);
    out.push(decodeProblem(path.join('.'), value, expected, detail));
  }
  return out;
}
