/**
 * `vnet migrate <vm> --to <host>`: asks for a live migration and follows it step by step
 * (the migration's own stream, `migration.<id>`, and the switch), ending with the blackout.
 * `vnet migrations`: every migration in the log, with its outcome, steps and blackout.
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import type { DomainEvent, EventOf } from '@vnet/events';
import { CliError, action, connectStore, externalEvent, natsUrl, publishExternal } from '../connect';

interface MigrateOptions {
  to: string;
  id?: string;
  nats?: string;
  timeout: string;
}

const ms = (from: string | null | undefined, to: string | null | undefined) => (from && to ? `${Date.parse(to) - Date.parse(from)} ms` : '-');

/** One line per step, as it happens. */
function stepLine(e: DomainEvent, t0: number): string | undefined {
  const at = `+${String(Date.parse(e.occurredAt) - t0).padStart(5)} ms`;
  switch (e.type) {
    case 'MigrationStarted':
      return `${at}  started        ${e.payload.vmId} (${e.payload.ip} in VNI ${e.payload.vni}) ${e.payload.fromHostId} -> ${e.payload.toHostId}`;
    case 'VmKeyShared':
      return `${at}  key shared     key ${e.payload.keyId} sealed to ${e.payload.hostId}`;
    case 'MigrationTargetReady':
      return `${at}  target ready   ${e.payload.hostId} holds the key`;
    case 'MigrationSwitching':
      return `${at}  switching      grace period ${e.payload.graceMs} ms`;
    case 'VmMoved':
      return `${at}  switched       ${e.payload.ip} now at ${e.payload.toUnderlay}`;
    case 'MigrationTrafficArrived':
      return `${at}  first packet   delivered at ${e.payload.hostId}${e.payload.dropped ? ` (${e.payload.dropped} dropped before it)` : ''}`;
    case 'MigrationForwardingEnded':
      return `${at}  forwarding end ${e.payload.hostId} forwarded ${e.payload.forwarded} frames${e.payload.dropped ? `, dropped ${e.payload.dropped}` : ''}`;
    case 'MigrationDeadlinePassed':
      return `${at}  deadline       step ${e.payload.step} took over ${e.payload.afterMs} ms`;
    default:
      return undefined;
  }
}

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description(
      'Move a VM to another host while it runs: it keeps its address, hosts with pairs to it follow, ' +
        'the source forwards for a grace period. Shows the steps as they happen and ends with the blackout ' +
        '(switch to the first packet delivered at the target), the packets the data plane lost and what the source forwarded.',
    )
    .argument('<vm>', 'VM id')
    .requiredOption('--to <host>', 'target host id')
    .option('--id <migrationId>', 'migration id (default: a new one)')
    .option('--nats <url>', 'NATS server (default: $NATS_URL or nats://127.0.0.1:4222)')
    .option('--timeout <ms>', 'how long to follow it', '30000')
    .addHelpText('after', `
Example:
  $ npx vnet migrate blue-1 --to h3      # in the demo of vnet up

The migration fails with a reason (unknown-host, host-drained, out-of-capacity, …) when the
target cannot take the VM, and rolls back (target-unresponsive) when the target does not get
ready in time; the VM then stays where it was.`)
    .action(
      action(async (vmId: string, opts: MigrateOptions) => {
        const timeoutMs = Number(opts.timeout);
        if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new CliError(`--timeout ${JSON.stringify(opts.timeout)}: expected a positive number of milliseconds`);
        const migrationId = opts.id ?? `m-${randomUUID().slice(0, 8)}`;
        const request = externalEvent('MigrationRequested', { migrationId, vmId, toHostId: opts.to });
        const store = await connectStore(natsUrl(opts.nats), 'vnet-cli-migrate');
        const ac = new AbortController();
        try {
          const t0 = Date.now();
          await publishExternal(store, request);
          process.stdout.write(`requested  migration ${migrationId}: ${vmId} -> ${opts.to}\n`);
          let end: EventOf<'MigrationCompleted'> | EventOf<'MigrationFailed'> | undefined;
          const done = new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, timeoutMs);
            const follow = (filter: string) =>
              store
                .forEachEvent({ filter, fromTime: new Date(t0 - 1000), live: true, signal: ac.signal }, (rec) => {
                  const e = rec.event;
                  if (!('migrationId' in e.payload) || e.payload.migrationId !== migrationId) return;
                  const line = stepLine(e, t0);
                  if (line) process.stdout.write(`${line}\n`);
                  if (e.type === 'MigrationCompleted' || e.type === 'MigrationFailed') {
                    end = e;
                    clearTimeout(timer);
                    resolve();
                  }
                })
                .catch(() => undefined);
            void follow(`vnet.evt.migration.${migrationId}`);
            void follow('vnet.evt.vni.>');
            void follow('vnet.evt.hostkeys.>');
          });
          await done;
          const e = end as EventOf<'MigrationCompleted'> | EventOf<'MigrationFailed'> | undefined;
          if (!e) throw new CliError(`migration ${migrationId} did not end within ${timeoutMs} ms: is the migration service running? (\`npx vnet tail\` shows its events)`);
          if (e.type === 'MigrationFailed') {
            throw new CliError(`migration ${migrationId} failed at ${e.payload.step}: ${e.payload.reason}${e.payload.rolledBack ? ' (rolled back)' : ''}: ${e.payload.detail}`);
          }
          const p = e.payload;
          process.stdout.write(
            `completed  ${p.vmId} runs on ${p.toHostId}: blackout ${p.blackoutMs === null ? 'n/a (no packet reached it)' : `${p.blackoutMs} ms`}, ` +
              `${p.packetsLost === undefined ? 'packets lost unknown' : `${p.packetsLost} packets lost`}, ` +
              `${p.forwarded ?? 'unknown'} frames forwarded by ${p.fromHostId}, total ${ms(p.steps.requestedAt, e.occurredAt)}\n`,
          );
        } finally {
          ac.abort();
          await store.close();
        }
      }),
    );

  program
    .command('migrations')
    .description('Every live migration in the log: outcome, hosts, blackout (switch to first packet at the target), ' +
        'packets lost (dropped by the source after the VM left it and by the target before its first delivery), what the source forwarded.')
    .option('--nats <url>', 'NATS server (default: $NATS_URL or nats://127.0.0.1:4222)')
    .action(
      action(async (opts: { nats?: string }) => {
        const store = await connectStore(natsUrl(opts.nats), 'vnet-cli-migrations');
        try {
          const rows: string[][] = [];
          for await (const r of store.readAll({ filter: 'vnet.evt.migration.>' })) {
            const e = r.event;
            if (e.type === 'MigrationCompleted') {
              const p = e.payload;
              rows.push([p.migrationId, p.vmId, `${p.fromHostId} -> ${p.toHostId}`, 'completed', p.blackoutMs === null ? '-' : `${p.blackoutMs} ms`, String(p.packetsLost ?? '-'), String(p.forwarded ?? '-'), ms(p.steps.requestedAt, e.occurredAt)]);
            } else if (e.type === 'MigrationFailed') {
              const p = e.payload;
              rows.push([p.migrationId, p.vmId, `-> ${p.toHostId}`, `failed: ${p.reason}${p.rolledBack ? ' (rolled back)' : ''}`, '-', '-', '-', '-']);
            }
          }
          if (rows.length === 0) {
            process.stdout.write('no migration has ended yet (`npx vnet migrate <vm> --to <host>` starts one)\n');
            return;
          }
          const head = ['MIGRATION', 'VM', 'HOSTS', 'OUTCOME', 'BLACKOUT', 'LOST', 'FORWARDED', 'TOTAL'];
          const width = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
          for (const row of [head, ...rows]) process.stdout.write(`${row.map((c, i) => c.padEnd(width[i]!)).join('  ').trimEnd()}\n`);
        } finally {
          await store.close();
        }
      }),
    );
}
