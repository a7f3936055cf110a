/**
 * `mustDecode`: a branded value from a literal, for fixtures, tests and constants, where an
 * invalid value is a bug in the caller and an exception is the right answer.
 */
import type * as t from 'io-ts';
import { decodeFailure, formatDecodeFailure, problemsOf } from './errors';

/** Decodes `value` with `codec` or throws an Error listing the problems (`mustDecode(VmId, 'web-1')`). */
export function mustDecode<C extends t.Mixed>(codec: C, value: unknown): t.TypeOf<C> {
  const result = codec.decode(value);
  if (result._tag === 'Right') return result.right as t.TypeOf<C>;
  throw new Error(`invalid ${codec.name}: ${formatDecodeFailure(decodeFailure(problemsOf(result.left)))}`);
}
