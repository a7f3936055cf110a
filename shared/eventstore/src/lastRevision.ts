/** The current revision of one aggregate stream (0 when it has no event). */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { StoreContext } from './context';
import { LOG_STREAM, subjectOf } from './subjects';

/** Returns the subject sequence of the last event of `streamName`, or 0. */
export async function lastRevision<Ev>(ctx: StoreContext<Ev>, streamName: string): Promise<number> {
  try {
    const m = await ctx.jsm.streams.getMessage(LOG_STREAM, { last_by_subj: subjectOf(streamName) });
    return m ? m.seq : 0;
  } catch (e) {
    if (e instanceof JetStreamApiError && e.code === JetStreamApiCodes.NoMessageFound) return 0;
    throw e;
  }
}
