/**
 * A live reader of one filter that does not stay dead: the agent's keyring and pair flow
 * must keep following their subjects for as long as the agent runs, or keys, tokens and
 * revocations stop arriving while the agent still looks healthy.
 *
 * - One event whose handling throws is reported and skipped; the reader goes on.
 * - An event this build cannot decode is reported and skipped (the read restarts after it).
 * - A read that fails (consumer or connection trouble) restarts after `retryMs` from the
 *   position after the last event handled, so nothing is skipped and nothing handled twice.
 * `down()` says whether it is between a failure and its restart (for readiness and metrics).
 */
import type { DomainEvent } from '@vnet/events';
import { UndecodableEvent, type EventStore, type RecordedEvent } from '@vnet/eventstore';

export interface LiveReaderOptions {
  readonly store: EventStore<DomainEvent>;
  readonly filter: string;
  /** First position to read (default 1: the whole history of the filter). */
  readonly fromPosition?: number;
  /** Or: the first event stored at or after this time (until one event was read). */
  readonly fromTime?: Date;
  readonly retryMs?: number;
  readonly onError: (e: Error) => void;
}

export interface LiveReader {
  /** True between a failed read and its restart. */
  down(): boolean;
  /** Reads that failed and were restarted. */
  restarts(): number;
  stop(): Promise<void>;
}

export function startLiveReader(o: LiveReaderOptions, handle: (r: RecordedEvent<DomainEvent>) => void): LiveReader {
  const retryMs = o.retryMs ?? 1000;
  let next = o.fromPosition ?? 1;
  let readAny = false;
  let stopped = false;
  let isDown = false;
  let restarts = 0;
  let ac = new AbortController();
  let current: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const asError = (e: unknown) => (e instanceof Error ? e : new Error(String(e)));

  const read = (): void => {
    if (stopped) return;
    isDown = false;
    ac = new AbortController();
    const signal = ac.signal;
    current = o.store
      .forEachEvent({ filter: o.filter, ...(o.fromTime && !readAny ? { fromTime: o.fromTime } : { fromPosition: next }), live: true, signal }, (r) => {
        next = r.position + 1;
        readAny = true;
        try {
          handle(r);
        } catch (e) {
          o.onError(new Error(`${o.filter}: event at position ${r.position} could not be handled (${asError(e).message}); skipped`));
        }
      })
      .catch((e: unknown) => {
        if (stopped || signal.aborted) return;
        if (e instanceof UndecodableEvent) {
          next = Math.max(next, e.position + 1);
          o.onError(new Error(`${o.filter}: ${e.message}; skipped`));
        } else o.onError(new Error(`${o.filter}: reader failed (${asError(e).message}); restarting in ${retryMs} ms from position ${next}`));
        isDown = true;
        restarts++;
        timer = setTimeout(read, e instanceof UndecodableEvent ? 0 : retryMs);
        timer.unref();
      });
  };
  read();
  return {
    down: () => isDown,
    restarts: () => restarts,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      ac.abort();
      await current.catch(() => undefined);
    },
  };
}
