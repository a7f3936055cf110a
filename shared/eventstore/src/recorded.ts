/** What reading gives back: a decoded event with where and when it was stored. */
import type { JsMsg } from '@nats-io/jetstream';
import * as E from 'fp-ts/lib/Either.js';
import type { StoreContext } from './context';
import { UndecodableEvent } from './errors';
import { streamNameOfSubject } from './subjects';

/** A stored event. `revision` and `position` are the same number (the JetStream stream
 * sequence); the two names follow the EventStore client. */
export interface RecordedEvent<Ev> {
  readonly streamName: string;
  readonly subject: string;
  readonly revision: number;
  readonly position: number;
  /** When the server stored it. */
  readonly created: Date;
  readonly event: Ev;
}

/** Decodes one consumed message; an undecodable record is a bug and throws. */
export function toRecorded<Ev>(ctx: StoreContext<Ev>, m: JsMsg): RecordedEvent<Ev> {
  const decoded = ctx.codec.decode(m.data);
  if (E.isLeft(decoded)) throw new UndecodableEvent(m.subject, m.seq, decoded.left);
  return {
    streamName: streamNameOfSubject(m.subject),
    subject: m.subject,
    revision: m.seq,
    position: m.seq,
    created: new Date(Number(m.info.timestampNanos / 1_000_000)),
    event: decoded.right,
  };
}
