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

/** When the server stored a message. */
export function createdAt(m: JsMsg): Date {
  return new Date(Number(m.info.timestampNanos / 1_000_000));
}

/** A message's headers as a plain record (multi-valued headers joined with commas). */
export function headerRecord(m: JsMsg): Record<string, string> {
  const out: Record<string, string> = {};
  if (m.headers) for (const [k, v] of m.headers) out[k] = v.join(',');
  return out;
}

/** A consumed message as a RecordedEvent: the event is decoded at once, the rest is read
 * from the message only when asked for (replays touch few of these fields). */
class Recorded<Ev> implements RecordedEvent<Ev> {
  constructor(
    private readonly m: JsMsg,
    readonly event: Ev,
  ) {}
  get subject(): string {
    return this.m.subject;
  }
  get streamName(): string {
    return streamNameOfSubject(this.m.subject);
  }
  get revision(): number {
    return this.m.seq;
  }
  get position(): number {
    return this.m.seq;
  }
  get created(): Date {
    return createdAt(this.m);
  }
}

/** Decodes one consumed message; an undecodable record is a bug and throws. */
export function toRecorded<Ev>(ctx: StoreContext<Ev>, m: JsMsg): RecordedEvent<Ev> {
  const decoded = ctx.codec.decode(m.data);
  if (E.isLeft(decoded)) throw new UndecodableEvent(m.subject, m.seq, decoded.left);
  return new Recorded(m, decoded.right);
}
