/**
 * `vnet tail`: follows the log (or the dead letters), one readable line per event.
 */
import type { Command } from 'commander';
import * as E from 'fp-ts/lib/Either.js';
import { describeEvent, domainEventCodec } from '@vnet/events';
import { CliError, action, connectStore, natsUrl } from '../connect';

interface TailOptions {
  nats?: string;
  from?: string;
  lines: string;
  follow: boolean;
  filter?: string;
  json?: boolean;
  deadLetters?: boolean;
}

/** Where to start: a position, "start", an ISO time, or the last N events. */
export function startPoint(from: string | undefined, lines: number, last: number): { fromPosition?: number; fromTime?: Date } {
  if (from === undefined) return { fromPosition: Math.max(1, last - lines + 1) };
  if (from === 'start') return { fromPosition: 1 };
  if (/^\d+$/.test(from)) return { fromPosition: Number(from) };
  const t = new Date(from);
  if (Number.isNaN(t.getTime())) throw new CliError(`--from ${JSON.stringify(from)}: expected "start", a position (e.g. 120) or an ISO time (e.g. 2026-11-25T10:00:00Z)`);
  return { fromTime: t };
}

export function registerTail(program: Command): void {
  program
    .command('tail')
    .description('Follow the event log, one readable line per event: position, time, stream, event.')
    .option('--nats <url>', 'NATS server (default: $NATS_URL or nats://127.0.0.1:4222)')
    .option('--from <where>', 'start at "start", a position, or an ISO time (default: the last --lines events)')
    .option('-n, --lines <n>', 'how many past events to show first', '20')
    .option('--no-follow', 'stop at the end of the log instead of waiting for new events')
    .option('--filter <subject>', 'one NATS subject filter, e.g. "vnet.evt.host.>"')
    .option('--json', 'print each event as one JSON line')
    .option('--dead-letters', 'follow the dead letters (rejected or failed messages, with the reason) instead')
    .action(
      action(async (opts: TailOptions) => {
        const lines = Number(opts.lines);
        if (!Number.isInteger(lines) || lines < 0) throw new CliError(`--lines ${opts.lines}: expected a non-negative integer`);
        const store = await connectStore(natsUrl(opts.nats), 'vnet-cli-tail');
        const ac = new AbortController();
        const stop = () => ac.abort();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          const stream = opts.deadLetters ? 'VNET_DLQ' : 'VNET_EVENTS';
          const start = startPoint(opts.from, lines, await store.lastPosition(stream));
          const common = { ...start, live: opts.follow, signal: ac.signal };
          if (opts.deadLetters) {
            for await (const m of store.readRaw({ ...common, stream, filter: opts.filter ?? 'vnet.dlq.>' })) {
              const reason = m.headers['Vnet-Reason'] ?? '';
              const body = new TextDecoder().decode(m.data.subarray(0, 200)).replace(/\s+/g, ' ');
              process.stdout.write(
                opts.json
                  ? `${JSON.stringify({ position: m.position, at: m.created, subject: m.subject, headers: m.headers, data: body })}\n`
                  : `${String(m.position).padStart(7)}  ${m.created.toISOString()}  ${m.subject}  ${reason}\n          ${body}\n`,
              );
            }
          } else {
            // Raw records, decoded here: one record this build cannot read (an event from a
            // newer version, say) is shown as such instead of ending the tail.
            const raw = store.readRaw({ ...common, stream, filter: opts.filter ?? 'vnet.evt.>' });
            for await (const m of raw) {
              const d = domainEventCodec.decode(m.data);
              const streamName = m.subject.replace(/^vnet\.evt\./, '');
              if (E.isLeft(d)) {
                process.stdout.write(
                  opts.json
                    ? `${JSON.stringify({ position: m.position, at: m.created, stream: streamName, undecodable: d.left })}\n`
                    : `${String(m.position).padStart(7)}  ${m.created.toISOString()}  ${streamName.padEnd(24)}  (cannot decode: ${d.left.split('\n')[0]})\n`,
                );
                continue;
              }
              process.stdout.write(
                opts.json
                  ? `${JSON.stringify({ position: m.position, at: m.created, stream: streamName, event: d.right })}\n`
                  : `${String(m.position).padStart(7)}  ${m.created.toISOString()}  ${streamName.padEnd(24)}  ${describeEvent(d.right)}\n`,
              );
            }
          }
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          await store.close();
        }
      }),
    );
}
