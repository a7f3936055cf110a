/**
 * `vnet publish <file|->`: validates external events and publishes them on `vnet.ext.<type>`,
 * where the gateway appends them to the log. Nothing is published unless every event in the
 * input is valid.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import * as E from 'fp-ts/lib/Either.js';
import { EXTERNAL_EVENT_TYPES, describeEvent, streamNameOf, validateExternal, type DomainEvent } from '@vnet/events';
import { describeAppendError } from '@vnet/eventstore';
import { CliError, action, connectStore, natsUrl } from '../connect';
import { uuidOf } from '../ids';

/** Splits the input into JSON values: one object, an array, or one object per line. */
export function parseInput(text: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed === '') throw new CliError('the input is empty: expected a JSON event, an array of events, or one event per line');
  try {
    const v: unknown = JSON.parse(trimmed);
    return Array.isArray(v) ? v : [v];
  } catch {
    return trimmed.split('\n').flatMap((line, i) => {
      if (line.trim() === '') return [];
      try {
        return [JSON.parse(line) as unknown];
      } catch (e) {
        throw new CliError(`line ${i + 1} is not JSON: ${(e as Error).message}`);
      }
    });
  }
}

/** A UUID (version 8) derived from an event's type, version and payload: publishing the same
 * file twice gives the same id, so the log stores it once. */
export function contentId(o: Record<string, unknown>): string {
  return uuidOf(JSON.stringify([o.type, o.schemaVersion, o.payload]));
}

/** Fills the envelope fields an operator may leave out (id, correlation, causation, time). */
export function completeEnvelope(v: unknown): unknown {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
  const o = { ...(v as Record<string, unknown>) };
  if (o.id === undefined) o.id = contentId(o);
  if (o.correlationId === undefined) o.correlationId = o.id;
  if (o.causationId === undefined) o.causationId = null;
  if (o.occurredAt === undefined) o.occurredAt = new Date().toISOString();
  return o;
}

async function readSource(source: string): Promise<string> {
  if (source === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return readFileSync(source, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${source}: ${(e as Error).message}`);
  }
}

async function waitInLog(store: Awaited<ReturnType<typeof connectStore>>, ev: DomainEvent, timeoutMs: number): Promise<number | undefined> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    for await (const r of store.readStream(streamNameOf(ev))) if (r.event.id === ev.id) return r.position;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

export function registerPublish(program: Command): void {
  program
    .command('publish')
    .description(
      'Validate external events and publish them for the gateway to append to the log. ' +
        'Input: one JSON event, a JSON array of events, or one event per line (NDJSON). ' +
        'Missing envelope fields (correlationId, causationId, occurredAt) are filled in; a missing id is ' +
        'derived from type, version and payload, so publishing the same file again within the log\'s ' +
        'deduplication window (1 hour) stores nothing new; give each event its own id to record the ' +
        'same content twice. Events over 1 MiB are refused; ' +
        'type, schemaVersion and payload are required. If any event is invalid, nothing is published.\n' +
        `Event types: ${EXTERNAL_EVENT_TYPES.join(', ')}.\n` +
        'The JSON Schema of every event is in shared/events/schema/external-events.schema.json.',
    )
    .argument('<file>', 'a file with the event(s), or - for standard input')
    .option('--nats <url>', 'NATS server (default: $NATS_URL or nats://127.0.0.1:4222)')
    .option('--no-wait', 'do not wait for the gateway to store the events in the log')
    .option('--timeout <ms>', 'how long to wait for the gateway, per event', '5000')
    .option('--dry-run', 'validate only; publish nothing')
    .addHelpText('after', `
Example event:
  {"type":"RegionDeclared","schemaVersion":1,"payload":{"regionId":"eu-west","name":"Europe West"}}`)
    .action(
      action(async (file: string, opts: { nats?: string; wait: boolean; timeout: string; dryRun?: boolean }) => {
        const values = parseInput(await readSource(file)).map(completeEnvelope);
        const events: DomainEvent[] = [];
        const problems: string[] = [];
        values.forEach((v, i) => {
          const type = typeof v === 'object' && v !== null ? (v as { type?: unknown }).type : undefined;
          const d = validateExternal(`vnet.ext.${typeof type === 'string' ? type : 'unknown'}`, Buffer.from(JSON.stringify(v), 'utf8'));
          if (E.isLeft(d)) problems.push(`event ${i + 1}${values.length > 1 ? ` of ${values.length}` : ''}:\n  ${d.left.reason.split('\n').join('\n  ')}`);
          else events.push(d.right);
        });
        if (problems.length > 0) throw new CliError(`invalid input, nothing was published:\n${problems.join('\n')}`);
        if (opts.dryRun) {
          for (const ev of events) process.stdout.write(`valid  ${describeEvent(ev)}\n`);
          return;
        }
        const url = natsUrl(opts.nats);
        const store = await connectStore(url, 'vnet-cli-publish');
        try {
          const enc = new TextEncoder();
          for (const ev of events) {
            const r = await store.publishRaw(`vnet.ext.${ev.type}`, enc.encode(JSON.stringify(ev)), { msgId: ev.id });
            if (E.isLeft(r)) throw new CliError(`publishing ${ev.type} ${ev.id} failed: ${describeAppendError(r.left)}`);
            process.stdout.write(`published ${describeEvent(ev)}  id=${ev.id}${r.right.duplicate ? ' (already published)' : ''}\n`);
          }
          if (opts.wait) {
            for (const ev of events) {
              const pos = await waitInLog(store, ev, Number(opts.timeout));
              if (pos === undefined) {
                throw new CliError(
                  `event ${ev.id} was accepted for ingest but is not in the log after ${opts.timeout} ms: ` +
                    'is the gateway running? (`npx vnet tail --dead-letters` shows rejections)',
                );
              }
              process.stdout.write(`stored   ${ev.type} ${ev.id} at position ${pos}\n`);
            }
          }
        } finally {
          await store.close();
        }
      }),
    );
}
