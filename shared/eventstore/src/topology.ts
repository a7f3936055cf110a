/**
 * Streams, consumers and KV buckets declared as data and applied idempotently: what exists
 * with the declared settings is left alone, what differs is updated, what is missing is
 * created. The 2.9 server reads configs leniently, so every stream is read back after a
 * change and a field the server dropped is an error.
 */
import { DiscardPolicy, RetentionPolicy, StorageType, type StreamConfig } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { JetStreamApiError } from '@nats-io/jetstream';
import type { StoreContext } from './context';
import { ensureConsumer, type SubscriptionOptions } from './subscribe';

/** A JetStream stream as vnet declares it. */
export interface StreamSpec {
  readonly name: string;
  readonly subjects: readonly string[];
  readonly description: string;
  readonly storage: 'file' | 'memory';
  readonly retention: 'limits' | 'workqueue' | 'interest';
  /** 0 = keep forever. */
  readonly maxAgeMs: number;
  /** -1 = no limit. */
  readonly maxMsgSize: number;
  readonly maxBytes: number;
  readonly duplicateWindowMs: number;
  readonly replicas: number;
  readonly allowDirect: boolean;
}

/** A KV bucket as vnet declares it. */
export interface KvSpec {
  readonly bucket: string;
  readonly history: number;
  readonly description: string;
  readonly replicas: number;
}

/** Everything vnet needs on the server. */
export interface Topology {
  readonly streams: readonly StreamSpec[];
  readonly consumers: readonly SubscriptionOptions[];
  readonly kv: readonly KvSpec[];
}

/** What applying a topology did. */
export interface TopologyReport {
  readonly created: readonly string[];
  readonly updated: readonly string[];
  readonly unchanged: readonly string[];
}

const MS = 1_000_000;

function toConfig(s: StreamSpec): Partial<StreamConfig> & { name: string } {
  return {
    name: s.name,
    subjects: [...s.subjects],
    description: s.description,
    storage: s.storage === 'file' ? StorageType.File : StorageType.Memory,
    retention:
      s.retention === 'limits' ? RetentionPolicy.Limits : s.retention === 'workqueue' ? RetentionPolicy.Workqueue : RetentionPolicy.Interest,
    max_age: s.maxAgeMs * MS,
    max_msg_size: s.maxMsgSize,
    max_bytes: s.maxBytes,
    duplicate_window: s.duplicateWindowMs * MS,
    num_replicas: s.replicas,
    allow_direct: s.allowDirect,
    discard: DiscardPolicy.Old,
  };
}

/** Fields whose server value differs from the declared one. */
function differences(want: Partial<StreamConfig>, have: Partial<StreamConfig>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(want)) {
    const h = (have as Record<string, unknown>)[k];
    if (JSON.stringify(h) !== JSON.stringify(v)) out.push(`${k}: declared ${JSON.stringify(v)}, server has ${JSON.stringify(h)}`);
  }
  return out;
}

async function applyStream<Ev>(ctx: StoreContext<Ev>, s: StreamSpec, update: boolean): Promise<'created' | 'updated' | 'unchanged'> {
  const want = toConfig(s);
  let outcome: 'created' | 'updated' | 'unchanged';
  try {
    const info = await ctx.jsm.streams.info(s.name);
    const diff = differences(want, info.config);
    if (diff.length === 0 || !update) return 'unchanged';
    if (info.config.storage !== want.storage || info.config.retention !== want.retention) {
      throw new Error(`stream ${s.name} cannot change storage or retention in place (${diff.join('; ')}): migrate it by hand`);
    }
    await ctx.jsm.streams.update(s.name, want);
    outcome = 'updated';
  } catch (e) {
    if (!(e instanceof JetStreamApiError) || e.code !== 10059) throw e;
    await ctx.jsm.streams.add(want);
    outcome = 'created';
  }
  const back = await ctx.jsm.streams.info(s.name);
  const dropped = differences(want, back.config);
  if (dropped.length > 0) throw new Error(`stream ${s.name}: the server did not keep the declared config: ${dropped.join('; ')}`);
  return outcome;
}

/** How to apply. */
export interface ApplyOptions {
  /** Update existing streams whose settings differ (default true). Services pass false: they
   * create what is missing but leave what an operator set (e.g. R3 replicas) alone. */
  readonly update?: boolean;
}

/** Applies a topology; safe to run on every start. */
export async function applyTopology<Ev>(ctx: StoreContext<Ev>, t: Topology, opts: ApplyOptions = {}): Promise<TopologyReport> {
  const update = opts.update ?? true;
  const created: string[] = [];
  const updated: string[] = [];
  const unchanged: string[] = [];
  const note = (what: string, o: 'created' | 'updated' | 'unchanged') =>
    (o === 'created' ? created : o === 'updated' ? updated : unchanged).push(what);
  for (const s of t.streams) note(`stream ${s.name}`, await applyStream(ctx, s, update));
  const kvm = new Kvm(ctx.js);
  for (const b of t.kv) {
    let exists = true;
    try {
      await ctx.jsm.streams.info(`KV_${b.bucket}`);
    } catch (e) {
      if (!(e instanceof JetStreamApiError) || e.code !== 10059) throw e;
      exists = false;
    }
    if (!exists) await kvm.create(b.bucket, { history: b.history, description: b.description, replicas: b.replicas });
    note(`kv ${b.bucket}`, exists ? 'unchanged' : 'created');
  }
  for (const c of t.consumers) note(`consumer ${c.stream ?? 'VNET_EVENTS'}/${c.name}`, await ensureConsumer(ctx, c));
  return { created, updated, unchanged };
}
