/**
 * The authorization service's loop: the shared deciding-service runner (`@vnet/runner`)
 * around the authorization decider, with Prometheus series of its decisions.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DomainEvent } from '@vnet/events';
import type { EventStore } from '@vnet/eventstore';
import { startRunner, type DeciderSpec, type Runner } from '@vnet/runner';
import type { Logger } from '@vnet/service-kit';
import { applyDecision, decide } from '../domain/decider';
import { isInput, isOutput, type AuthInput, type AuthOutput } from '../domain/messages';
import { initialState, type AuthState } from '../domain/state';

/** The authorization service for the runner. */
export const AUTHORIZATION: DeciderSpec<AuthState, AuthInput, AuthOutput> = {
  name: 'authorization',
  initial: initialState,
  isInput,
  isOutput,
  decide,
  apply: applyDecision,
  // One decision per pair per input.
  outputKey: (o) => o.payload.pairId,
};

/** Starts deciding, counting decisions into `registry`. */
export function startAuthorizer(store: EventStore<DomainEvent>, registry: Registry, log: Logger): Promise<Runner<AuthState>> {
  const registers = [registry];
  const decisions = new Counter({ name: 'vnet_authorization_decisions_total', help: 'pair decisions written, by type and reason', labelNames: ['type', 'reason'], registers });
  const live = new Gauge({ name: 'vnet_authorization_live_pairs', help: 'pairs authorised and not revoked', registers });
  const version = new Gauge({ name: 'vnet_authorization_policy_version', help: 'policy changes folded', registers });
  const position = new Gauge({ name: 'vnet_authorization_log_position', help: 'log position the state reflects', registers });
  return startRunner(store, AUTHORIZATION, log, {
    written: (outputs, state) => {
      for (const o of outputs) {
        if (o.type === 'PairAuthorized') decisions.inc({ type: o.type, reason: o.payload.ruleId === null ? 'default' : 'rule' });
        else if (o.type === 'PairDenied' || o.type === 'PairRevoked') decisions.inc({ type: o.type, reason: o.payload.reason });
      }
      live.set(state.pairs.size);
      version.set(state.policyVersion);
    },
    position: (p) => position.set(p),
  });
}
