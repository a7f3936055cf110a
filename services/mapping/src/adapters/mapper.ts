/**
 * The mapping service's loop: the shared deciding-service runner (`@vnet/runner`: rebuild
 * from the log, complete what a crash left unwritten, follow the log through the durable
 * subscription `mapping`) around the mapping decider. Output ids are derived from the input
 * id and the VM id, so no decision is ever written twice. One instance at a time (the
 * decisions depend on the order of all inputs).
 */
import type { DomainEvent } from '@vnet/events';
import type { EventStore } from '@vnet/eventstore';
import { materialize as materializeWith, startRunner, type DeciderSpec, type Runner } from '@vnet/runner';
import type { Logger } from '@vnet/service-kit';
import { applyDecision, decide } from '../domain/decider';
import { isInput, isOutput, type MappingInput, type MappingOutput } from '../domain/messages';
import { initialState, type MappingState } from '../domain/state';
import type { MappingMetrics } from './metrics';

/** The mapping service for the runner. */
export const MAPPING: DeciderSpec<MappingState, MappingInput, MappingOutput> = {
  name: 'mapping',
  initial: initialState,
  isInput,
  isOutput,
  decide,
  apply: applyDecision,
  // Within one decision every output has a distinct (type, VM) pair.
  outputKey: (o) => o.payload.vmId,
};

/** The envelopes of an input's decisions: derived ids, caused by the input, stamped `at`. */
export const materialize = (input: MappingInput, decisions: readonly MappingOutput[], at: Date): DomainEvent[] => materializeWith(MAPPING, input, decisions, at);

/** A running mapping service. */
export type Mapper = Runner<MappingState>;

function count(m: MappingMetrics, outputs: readonly DomainEvent[]): void {
  for (const o of outputs) {
    if (o.type === 'VmMappingAdded') m.accepted.inc();
    else if (o.type === 'VmPlacementRejected') m.rejected.inc({ reason: o.payload.reason });
    else if (o.type === 'VmMappingRemoved') m.removed.inc({ reason: o.payload.reason });
  }
}

/** Rebuilds, completes, and subscribes. */
export function startMapper(store: EventStore<DomainEvent>, metrics: MappingMetrics, log: Logger): Promise<Mapper> {
  return startRunner(store, MAPPING, log, {
    written: (outputs, state) => {
      count(metrics, outputs);
      metrics.mappings.set(state.vms.size);
    },
    position: (p) => metrics.position.set(p),
  });
}
