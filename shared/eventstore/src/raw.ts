/** Publishing bytes to a non-domain subject (external ingest, dead letters) through JetStream. */
import { headers as natsHeaders } from '@nats-io/transport-node';
import { JetStreamApiError } from '@nats-io/jetstream';
import * as E from 'fp-ts/lib/Either.js';
import type { StoreContext } from './context';
import type { AppendRejected, StoreUnavailable } from './errors';

export interface RawPublishOptions {
  /** Deduplication id (`Nats-Msg-Id`). */
  readonly msgId?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

/** Where a raw message was stored. */
export interface RawPublished {
  readonly stream: string;
  readonly position: number;
  readonly duplicate: boolean;
}

/** Publishes bytes and waits for JetStream to store them. */
export async function publishRaw<Ev>(
  ctx: StoreContext<Ev>,
  subject: string,
  data: Uint8Array,
  opts: RawPublishOptions = {},
): Promise<E.Either<StoreUnavailable | AppendRejected, RawPublished>> {
  let h;
  if (opts.headers) {
    h = natsHeaders();
    for (const [k, v] of Object.entries(opts.headers)) h.set(k, v.replace(/[\r\n]+/g, ' '));
  }
  try {
    const ack = await ctx.js.publish(subject, data, {
      ...(opts.msgId ? { msgID: opts.msgId } : {}),
      ...(h ? { headers: h } : {}),
      timeout: opts.timeoutMs ?? ctx.timeoutMs,
    });
    return E.right({ stream: ack.stream, position: ack.seq, duplicate: ack.duplicate });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (e instanceof JetStreamApiError || /payload/i.test(message)) {
      return E.left({ _tag: 'AppendRejected', streamName: subject, reason: message });
    }
    return E.left({ _tag: 'StoreUnavailable', reason: message });
  }
}
