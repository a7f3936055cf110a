/**
 * What the token issuer reads and writes. Inputs: hosts (their public keys), mappings (which
 * host runs a VM: its key is sealed to that host), authorised pairs (each gets a token),
 * rotation requests (a VM gets a new key now), revoked pairs (their tokens are voided at the
 * destination host).
 * Outputs: `VmKeyIssued` (a VM's key, sealed to its host and to the issuer) and
 * `PairTokenIssued` (a pair's token, sealed to the source host).
 */
import type { DomainEvent, EventOf, PayloadOf } from '@vnet/events';

export const INPUT_TYPES = ['HostRegistered', 'VmMappingAdded', 'VmMappingRemoved', 'PairAuthorized', 'PairRevoked', 'VmKeyRotationRequested', 'MigrationStarted', 'VmMoved'] as const;
export type InputType = (typeof INPUT_TYPES)[number];
export type IssuerInput = EventOf<InputType>;

export const OUTPUT_TYPES = ['VmKeyIssued', 'PairTokenIssued', 'PairTokensVoided', 'VmKeyShared'] as const;
export type OutputType = (typeof OUTPUT_TYPES)[number];
export type IssuerOutput = { readonly [K in OutputType]: { readonly type: K; readonly payload: PayloadOf<K> } }[OutputType];

const INPUTS = new Set<string>(INPUT_TYPES);
const OUTPUTS = new Set<string>(OUTPUT_TYPES);
export const isInput = (ev: DomainEvent): ev is IssuerInput => INPUTS.has(ev.type);
export const isOutput = (ev: DomainEvent): ev is EventOf<OutputType> => OUTPUTS.has(ev.type);
