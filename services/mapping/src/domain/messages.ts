/**
 * What the mapping service reads and writes, as subsets of the catalogue. Inputs are facts
 * other parts put in the log; outputs are the service's own decisions, written without an
 * envelope here (the adapter gives them ids, causation and time).
 */
import type { DomainEvent, EventOf, PayloadOf } from '@vnet/events';

/** The event types the service decides on. */
export const INPUT_TYPES = ['HostRegistered', 'HostDrained', 'HostRemoved', 'NetworkCreated', 'VmPlaced', 'VmDeleted', 'MigrationSwitching'] as const;
/** An event type the service decides on. */
export type InputType = (typeof INPUT_TYPES)[number];
/** An input event, as read from the log. */
export type MappingInput = EventOf<InputType>;

/** The event types only the service writes. */
export const OUTPUT_TYPES = ['VmPlacementRejected', 'VmMappingAdded', 'VmMappingRemoved', 'HostVmAttached', 'HostVmDetached', 'VmMoved'] as const;
/** An event type only the service writes. */
export type OutputType = (typeof OUTPUT_TYPES)[number];
/** A decision: an output event's type and payload (the envelope is the adapter's job). */
export type MappingOutput = { readonly [K in OutputType]: { readonly type: K; readonly payload: PayloadOf<K> } }[OutputType];

/** Anything `evolve` folds: an input event or a decision (envelopes are ignored). */
export type MappingFact = { readonly [K in InputType]: { readonly type: K; readonly payload: PayloadOf<K> } }[InputType] | MappingOutput;

const INPUTS = new Set<string>(INPUT_TYPES);
const OUTPUTS = new Set<string>(OUTPUT_TYPES);

/** True for the events the service decides on. */
export const isInput = (ev: DomainEvent): ev is MappingInput => INPUTS.has(ev.type);
/** True for the service's own output events. */
export const isOutput = (ev: DomainEvent): ev is EventOf<OutputType> => OUTPUTS.has(ev.type);

/** Builds a decision (keeps the type and payload together for the compiler). */
export const output = <K extends OutputType>(type: K, payload: PayloadOf<K>): MappingOutput =>
  ({ type, payload }) as MappingOutput;
