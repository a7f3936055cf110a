/** Connection helpers shared by the commands. */
import { domainEventCodec, type DomainEvent } from '@vnet/events';
import { EventStore } from '@vnet/eventstore';

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
