/**
 * What the authorization service reads and writes, as subsets of the catalogue. Inputs are
 * facts other parts put in the log (networks, mappings, tags, policy, pair requests);
 * outputs are its decisions, without an envelope (the adapter gives ids, causation, time).
 */
import type { DomainEvent, EventOf, PayloadOf } from '@vnet/events';

/** The event types the service decides on. */
export const INPUT_TYPES = [
  'NetworkCreated',
  'VmMappingAdded',
  'VmMappingRemoved',
  'VmMoved',
  'VmTagged',
  'PolicyRuleSet',
  'PolicyRuleRemoved',
  'PairRequested',
] as const;
/** An event type the service decides on. */
export type InputType = (typeof INPUT_TYPES)[number];
/** An input event, as read from the log. */
export type AuthInput = EventOf<InputType>;

/** The event types only the service writes. */
export const OUTPUT_TYPES = ['PairAuthorized', 'PairDenied', 'PairRevoked'] as const;
/** An event type only the service writes. */
export type OutputType = (typeof OUTPUT_TYPES)[number];
/** A decision: an output event's type and payload. */
export type AuthOutput = { readonly [K in OutputType]: { readonly type: K; readonly payload: PayloadOf<K> } }[OutputType];

/** Anything `evolve` folds: an input event or a decision (envelopes are ignored). */
export type AuthFact = { readonly [K in InputType]: { readonly type: K; readonly payload: PayloadOf<K> } }[InputType] | AuthOutput;

const INPUTS = new Set<string>(INPUT_TYPES);
const OUTPUTS = new Set<string>(OUTPUT_TYPES);

/** True for the events the service decides on. */
export const isInput = (ev: DomainEvent): ev is AuthInput => INPUTS.has(ev.type);
/** True for the service's own output events. */
export const isOutput = (ev: DomainEvent): ev is EventOf<OutputType> => OUTPUTS.has(ev.type);

/** Builds a decision (keeps the type and payload together for the compiler). */
export const output = <K extends OutputType>(type: K, payload: PayloadOf<K>): AuthOutput => ({ type, payload }) as AuthOutput;
