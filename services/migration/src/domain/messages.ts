/**
 * What the migration service reads and writes, as subsets of the catalogue. Inputs: hosts
 * (where a VM may go), mappings (where each VM is), the migration requests and what the
 * other parts report of each step (the key shared, the target ready, the switch, the first
 * packet at the target, the end of forwarding) and its own clock (deadlines).
 * Outputs: its decisions on each migration.
 */
import type { DomainEvent, EventOf, PayloadOf } from '@vnet/events';

export const INPUT_TYPES = [
  'HostRegistered',
  'HostDrained',
  'HostRemoved',
  'VmMappingAdded',
  'VmMappingRemoved',
  'VmMoved',
  'MigrationRequested',
  'VmKeyShared',
  'MigrationTargetReady',
  'MigrationTrafficArrived',
  'MigrationForwardingEnded',
  'MigrationDeadlinePassed',
] as const;
export type InputType = (typeof INPUT_TYPES)[number];
export type MigrationInput = EventOf<InputType>;

export const OUTPUT_TYPES = ['MigrationStarted', 'MigrationSwitching', 'MigrationCompleted', 'MigrationFailed'] as const;
export type OutputType = (typeof OUTPUT_TYPES)[number];
export type MigrationOutput = { readonly [K in OutputType]: { readonly type: K; readonly payload: PayloadOf<K> } }[OutputType];

const INPUTS = new Set<string>(INPUT_TYPES);
const OUTPUTS = new Set<string>(OUTPUT_TYPES);
export const isInput = (ev: DomainEvent): ev is MigrationInput => INPUTS.has(ev.type);
export const isOutput = (ev: DomainEvent): ev is EventOf<OutputType> => OUTPUTS.has(ev.type);

/** Builds a decision (keeps the type and payload together for the compiler). */
export const output = <K extends OutputType>(type: K, payload: PayloadOf<K>): MigrationOutput => ({ type, payload }) as MigrationOutput;
