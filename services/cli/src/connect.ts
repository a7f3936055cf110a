/** Connection helpers shared by the commands. */
import { randomUUID } from 'node:crypto';
import * as E from 'fp-ts/lib/Either.js';
import { domainEventCodec, validateExternal, type DomainEvent } from '@vnet/events';
import { describeAppendError, EventStore } from '@vnet/eventstore';

/** The NATS URL a command uses: --nats, then NATS_URL, then the local default. */
export function natsUrl(flag?: string): string {
  return flag ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
}

/** Connects with the validating catalogue codec; a clear message when nothing listens. */
export async function connectStore(url: string, name: string): Promise<EventStore<DomainEvent>> {
  try {
    return await EventStore.connect({ servers: url, name, timeoutMs: 5000 }, domainEventCodec);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new CliError(`cannot reach NATS at ${url} (${msg}). Start it with \`npx vnet up\`, or set NATS_URL.`);
  }
}

/** An error whose message is for the operator: printed without a stack, exit code 1. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliError';
  }
}

/** Runs a command body, printing CliErrors plainly. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>) {
  return async (...args: A): Promise<void> => {
    try {
      await fn(...args);
    } catch (e) {
      if (e instanceof CliError) {
        process.stderr.write(`vnet: ${e.message}\n`);
        process.exit(e.exitCode);
      }
      throw e;
    }
  };
}

/**
 * An external event of `type` with `payload` in a fresh envelope, checked as the gateway will
 * check it: the event, or a CliError saying what is wrong (nothing is published).
 */
export function externalEvent(type: string, payload: Record<string, unknown>): DomainEvent {
  const id = randomUUID();
  const raw = { type, schemaVersion: 1, id, causationId: null, correlationId: id, occurredAt: new Date().toISOString(), payload };
  const d = validateExternal(`vnet.ext.${type}`, Buffer.from(JSON.stringify(raw), 'utf8'));
  if (E.isLeft(d)) throw new CliError(`nothing was published: ${d.left.reason}`);
  return d.right;
}

/** Publishes a checked external event for the gateway (`vnet.ext.<type>`, its id as the deduplication key). */
export async function publishExternal(store: EventStore<DomainEvent>, ev: DomainEvent): Promise<void> {
  const r = await store.publishRaw(`vnet.ext.${ev.type}`, Buffer.from(JSON.stringify(ev), 'utf8'), { msgId: ev.id });
  if (E.isLeft(r)) throw new CliError(`publishing ${ev.type} failed: ${describeAppendError(r.left)}`);
}
