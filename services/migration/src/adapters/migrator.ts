/**
 * The migration service's loop: the shared runner around the migration decider, and the
 * service's clock, which writes `MigrationDeadlinePassed` for a migration stuck at a step
 * longer than its deadline (the decider then fails or completes it). The clock looks at the
 * state every 250 ms and writes each (migration, step) once.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { mustDecode, newEvent, PositiveInt, streamNameOf, type DomainEvent } from '@vnet/events';
import { describeAppendError, type EventStore } from '@vnet/eventstore';
import { startRunner, type DeciderSpec, type Runner } from '@vnet/runner';
import type { Logger } from '@vnet/service-kit';
import { applyDecision, decide } from '../domain/decider';
import { isInput, isOutput, type MigrationInput, type MigrationOutput } from '../domain/messages';
import { inProgress, initialState, type MigrationState } from '../domain/state';

export interface MigratorOptions {
  /** How long the source forwards after the switch (ms). */
  readonly graceMs: number;
  /** How long the target may take to get the key and be ready (ms). */
  readonly prepareTimeoutMs: number;
}

export const migrationSpec = (o: MigratorOptions): DeciderSpec<MigrationState, MigrationInput, MigrationOutput> => {
  const grace = mustDecode(PositiveInt, o.graceMs);
  return {
    name: 'migration',
    initial: initialState,
    isInput,
    isOutput,
    decide: (s, e) => decide(s, e, grace),
    apply: applyDecision,
    outputKey: (d) => d.payload.migrationId,
  };
};

export interface Migrator {
  readonly runner: Runner<MigrationState>;
  stop(): Promise<void>;
}

export async function startMigrator(store: EventStore<DomainEvent>, registry: Registry, log: Logger, o: MigratorOptions): Promise<Migrator> {
  const registers = [registry];
  const outcomes = new Counter({ name: 'vnet_migrations_total', help: 'migrations ended, by outcome and reason', labelNames: ['outcome', 'reason'], registers });
  const running = new Gauge({ name: 'vnet_migrations_in_progress', help: 'migrations started and not ended', registers });
  const blackout = new Gauge({ name: 'vnet_migration_last_blackout_ms', help: 'blackout of the last completed migration (switch to first packet at the target)', registers });
  const runner = await startRunner(store, migrationSpec(o), log, {
    written: (outputs, state) => {
      for (const out of outputs) {
        if (out.type === 'MigrationCompleted') {
          outcomes.inc({ outcome: 'completed', reason: '' });
          if (out.payload.blackoutMs !== null) blackout.set(out.payload.blackoutMs);
        }
        if (out.type === 'MigrationFailed') outcomes.inc({ outcome: 'failed', reason: out.payload.reason });
      }
      running.set(state.active.size);
    },
  });
  const sent = new Set<string>();
  const deadlineOf = (step: string) => (step === 'switched' ? o.graceMs + o.prepareTimeoutMs : o.prepareTimeoutMs);
  const tick = () => {
    const now = Date.now();
    for (const m of runner.state().migrations.values()) {
      if (!inProgress(m)) continue;
      const step = m.step === 'started' ? 'started' : m.step === 'key-shared' ? 'key-shared' : 'switched';
      const limit = deadlineOf(step);
      const key = `${m.migrationId}/${m.step}`;
      if (now - m.stepSince < limit || sent.has(key)) continue;
      sent.add(key);
      const ev = newEvent('MigrationDeadlinePassed', { migrationId: m.migrationId, step, afterMs: mustDecode(PositiveInt, limit) });
      store.appendToStream(streamNameOf(ev), [ev]).then(
        (r) => r._tag === 'Left' && log.warn({ migrationId: m.migrationId, error: describeAppendError(r.left) }, 'could not write a deadline'),
        (e: unknown) => log.warn({ err: e, migrationId: m.migrationId }, 'could not write a deadline'),
      );
    }
  };
  const timer = setInterval(tick, 250);
  timer.unref();
  return {
    runner,
    stop: async () => {
      clearInterval(timer);
      await runner.stop();
    },
  };
}
