/**
 * `npm run bench -- log`: throughput of the event store client (`@vnet/eventstore`) against
 * raw JetStream calls on the same connection, for appending and for replaying the log.
 *
 *  - append/raw:    `js.publish(subject, bytes, { msgID })`, a sliding window of W publishes
 *                   in flight, bytes encoded beforehand.
 *  - append/client: `store.appendToStream(stream, batch, { expectedRevision: ANY })`, batches of
 *                   B events (one aggregate per batch), W/B calls in flight; the client encodes.
 *  - replay/raw:    an ordered consumer (`js.consumers.get` + `consume({ max_messages })`)
 *                   counting messages until N are seen.
 *  - replay/client: `for await (const r of store.readAll({ filter }))`, decoding every event
 *                   with the codec the store was connected with (jsonCodec, and the validating
 *                   `@vnet/events` codec when that package exports one).
 *
 * Setup: VNET_EVENTS is deleted and re-created from EVENTS_STREAM (so with exactly its
 * settings: file storage, 1 h duplicate window...) before every append run, so every append
 * starts on an empty log. Events go to `vnet.evt.vm.<vmId>`. The replays read the N events
 * left by the last append run (same bytes whoever wrote them), filtered on `vnet.evt.vm.>`,
 * after one unmeasured read.
 * On a server given by NATS_URL this destroys VNET_EVENTS, hence `--reset-log` is required.
 *
 * Each phase runs once with a small N to warm up, then `--repeats` (`--replay-repeats`) times,
 * alternating which of raw/client goes first. The table shows the median rates and, as the
 * ratio, the median of the per-run ratios (raw and client measured back to back, which cancels
 * most of the drift of a shared 2-core machine). The node process's CPU time per event is
 * printed too: on a busy machine it is steadier than wall time.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import * as E from 'fp-ts/lib/Either.js';
import { ANY, EventStore, jsonCodec, type EventCodec, type StorableEvent } from '@vnet/eventstore';
import { startNatsServer, type RunningNatsServer } from '@vnet/natsd';
import { EVENTS_STREAM } from '@vnet/topology';
import { UsageError, parseBenchOptions } from './options';

type Json = StorableEvent & Record<string, unknown>;

const LOG = EVENTS_STREAM.name;
const CATEGORY = 'vm';
const FILTER = `vnet.evt.${CATEGORY}.>`;
const TARGET_APPEND = 0.8;
const TARGET_REPLAY = 0.7;

// ---------------------------------------------------------------------------------------------
// options

interface Options {
  readonly events: number;
  /** Wanted size of one encoded event in bytes; 0 = the natural size of the envelope. */
  readonly payloadBytes: number;
  readonly window: number;
  readonly batch: number;
  readonly aggregates: number;
  readonly repeats: number;
  readonly replayRepeats: number;
  readonly warmup: number;
  readonly replayBatch: number;
  readonly resetLog: boolean;
}

const DEFAULTS: Options = {
  events: 100_000,
  payloadBytes: 0,
  window: 1000,
  batch: 100,
  aggregates: 1000,
  repeats: 3,
  replayRepeats: 5,
  warmup: 5000,
  replayBatch: 2000,
  resetLog: false,
};

const HELP = `usage: npm run bench -- log [options]

Append and replay throughput of @vnet/eventstore vs raw JetStream on the same connection.
Starts its own nats-server (temp store) unless NATS_URL is set.

options:
  --events N          events per measured run (default ${DEFAULTS.events})
  --payload-bytes N   size of one encoded event in bytes (default: the natural VmPlaced
                      envelope, ~330 B; larger sizes pad the ids, then add a "pad" field,
                      which the validating codec rejects, so its line is then skipped)
  --window W          publishes in flight, raw and client alike (default ${DEFAULTS.window})
  --batch B           events per appendToStream call; W/B calls in flight (default ${DEFAULTS.batch})
  --aggregates A      aggregates (subjects) the events are spread over (default ${DEFAULTS.aggregates})
  --repeats R         measured append runs per side, median reported (default ${DEFAULTS.repeats})
  --replay-repeats R  measured replay runs per side (replays are short; default ${DEFAULTS.replayRepeats})
  --warmup N          events of the warm-up run of each phase, 0 = none (default ${DEFAULTS.warmup})
  --replay-batch N    max_messages per pull when replaying, raw and client (default ${DEFAULTS.replayBatch})
  --reset-log         allow deleting VNET_EVENTS on the NATS_URL server (required with NATS_URL)
  --help              this text
`;

function parseOptions(args: readonly string[]): Options | 'help' {
  const given = parseBenchOptions<keyof Options>(args, {
    ints: {
      '--events': ['events', 1],
      '--payload-bytes': ['payloadBytes', 0],
      '--window': ['window', 1],
      '--batch': ['batch', 1],
      '--aggregates': ['aggregates', 1],
      '--repeats': ['repeats', 1],
      '--replay-repeats': ['replayRepeats', 1],
      '--warmup': ['warmup', 0],
      '--replay-batch': ['replayBatch', 1],
    },
    flags: { '--reset-log': 'resetLog' },
  });
  if (given === 'help') return 'help';
  const out = { ...DEFAULTS, ...given } as Options;
  if (out.batch > out.window) throw new UsageError(`--batch (${out.batch}) cannot exceed --window (${out.window})`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// workload

/** One appendToStream call's worth of events (one aggregate), with the raw side's bytes. */
interface Batch {
  readonly streamName: string;
  readonly subject: string;
  readonly events: readonly Json[];
  readonly bytes: readonly Uint8Array[];
}

interface Workload {
  readonly batches: readonly Batch[];
  readonly count: number;
  readonly meanBytes: number;
  /** False when padding added a field the closed catalogue envelope rejects. */
  readonly catalogueValid: boolean;
}

const pad3 = (n: number) => String(n).padStart(3, '0');

/** A VmPlaced-like envelope: valid against the @vnet/events catalogue unless `extraPad` > 0. */
function vmPlaced(k: number, vmId: string, idPad: string, extraPad: number): Json {
  const net = k % 251;
  const ev: Json = {
    type: 'VmPlaced',
    schemaVersion: 1,
    id: randomUUID(),
    causationId: randomUUID(),
    correlationId: randomUUID(),
    occurredAt: new Date(1_714_560_000_000 + k * 7).toISOString(),
    payload: {
      vmId,
      networkId: `net-${pad3(net)}${idPad}`,
      vni: 4096 + net,
      ip: `10.${net}.${(k >> 8) & 255}.${(k & 255) || 1}`,
      hostId: `host-${pad3(k % 97)}${idPad}`,
      ...(extraPad > 0 ? { pad: 'x'.repeat(extraPad) } : {}),
    },
  };
  return ev;
}

function makeWorkload(n: number, opts: Options): Workload {
  const enc = (ev: Json) => jsonCodec.encode(ev);
  // Natural size, then how much padding the wanted size needs: up to 50 more characters in
  // each of networkId and hostId (ids stay valid, <= 63 chars), the rest in a "pad" field.
  const natural = enc(vmPlaced(0, 'vm-00000', '', 0)).length;
  const want = Math.max(0, opts.payloadBytes - natural);
  const idPadLen = Math.min(50, Math.floor(want / 2));
  const idPad = idPadLen > 0 ? `-${'p'.repeat(idPadLen - 1)}` : '';
  const extra = Math.max(0, want - 2 * idPadLen - ',"pad":""'.length);
  const batches: Batch[] = [];
  let total = 0;
  let k = 0;
  for (let b = 0; k < n; b++) {
    const vmId = `vm-${String(b % opts.aggregates).padStart(5, '0')}`;
    const streamName = `${CATEGORY}.${vmId}`;
    const events: Json[] = [];
    const bytes: Uint8Array[] = [];
    for (let i = 0; i < opts.batch && k < n; i++, k++) {
      const ev = vmPlaced(k, vmId, idPad, extra);
      const b8 = enc(ev);
      events.push(ev);
      bytes.push(b8);
      total += b8.length;
    }
    batches.push({ streamName, subject: `vnet.evt.${streamName}`, events, bytes });
  }
  return { batches, count: n, meanBytes: total / n, catalogueValid: extra === 0 };
}

// ---------------------------------------------------------------------------------------------
// measurements

interface Sample {
  readonly seconds: number;
  /** CPU time of this (client) process per event, in microseconds. */
  readonly cpuUsPerEvent: number;
  readonly rate: number;
}

async function timed(n: number, body: () => Promise<void>): Promise<Sample> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await body();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { seconds, cpuUsPerEvent: (cpu.user + cpu.system) / n, rate: n / seconds };
}

/** Runs `work(i)` for i in [0, n) with at most `concurrency` pending at once. */
async function pool(n: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
}

type Store = EventStore<Json>;

/** Deletes VNET_EVENTS and re-creates it exactly as EVENTS_STREAM declares it. */
async function resetLog(store: Store): Promise<void> {
  const { jsm } = store.unsafeContext();
  try {
    await jsm.streams.delete(LOG);
  } catch (e) {
    if (!/not found/i.test(e instanceof Error ? e.message : String(e))) throw e;
  }
  await store.applyTopology({ streams: [EVENTS_STREAM], consumers: [], kv: [] });
}

async function checkCount(store: Store, n: number, what: string): Promise<void> {
  const have = await store.count(LOG);
  if (have !== n) throw new Error(`${what}: the log holds ${have} events, expected ${n}`);
}

async function appendRaw(store: Store, w: Workload, window: number): Promise<Sample> {
  const ctx = store.unsafeContext();
  const items: Array<{ subject: string; bytes: Uint8Array; id: string }> = [];
  for (const b of w.batches) b.events.forEach((ev, i) => items.push({ subject: b.subject, bytes: b.bytes[i]!, id: ev.id }));
  await resetLog(store);
  const s = await timed(w.count, () =>
    pool(items.length, window, async (i) => {
      const it = items[i]!;
      await ctx.js.publish(it.subject, it.bytes, { msgID: it.id, timeout: ctx.timeoutMs });
    }),
  );
  await checkCount(store, w.count, 'append/raw');
  return s;
}

async function appendClient(store: Store, w: Workload, window: number, batch: number): Promise<Sample> {
  await resetLog(store);
  const s = await timed(w.count, () =>
    pool(w.batches.length, Math.max(1, Math.floor(window / batch)), async (i) => {
      const b = w.batches[i]!;
      const r = await store.appendToStream(b.streamName, b.events, { expectedRevision: ANY });
      if (E.isLeft(r)) throw new Error(`append/client: ${JSON.stringify(r.left)}`);
    }),
  );
  await checkCount(store, w.count, 'append/client');
  return s;
}

/** Raw replay: ordered consumer, count until n; `decode` adds a UTF-8 + JSON.parse per message. */
async function replayRaw(store: Store, n: number, maxMessages: number, decode = false): Promise<Sample> {
  const ctx = store.unsafeContext();
  const td = new TextDecoder();
  let seen = 0;
  let sink = 0;
  const s = await timed(n, async () => {
    const consumer = await ctx.js.consumers.get(LOG, { filter_subjects: FILTER });
    const messages = await consumer.consume({ max_messages: maxMessages });
    try {
      for await (const m of messages) {
        if (decode) sink += (JSON.parse(td.decode(m.data)) as { id: string }).id.length;
        if (++seen >= n) break;
      }
    } finally {
      await messages.close().catch(() => undefined);
    }
  });
  if (seen !== n || (decode && sink === 0)) throw new Error(`replay/raw: saw ${seen} of ${n}`);
  return s;
}

async function replayClient<Ev extends StorableEvent>(store: EventStore<Ev>, n: number, maxMessages: number): Promise<Sample> {
  let seen = 0;
  let sink = 0;
  const s = await timed(n, async () => {
    for await (const r of store.readAll({ filter: FILTER, batch: maxMessages })) {
      sink += r.event.id.length;
      seen++;
    }
  });
  if (seen !== n || sink === 0) throw new Error(`replay/client: read ${seen} of ${n}`);
  return s;
}

// ---------------------------------------------------------------------------------------------
// the validating codec of @vnet/events, if that package exports one yet

interface FoundCodec {
  readonly name: string;
  readonly codec: EventCodec<StorableEvent>;
}

type Fn = (...a: unknown[]) => unknown;
const isFn = (f: unknown): f is Fn => typeof f === 'function';

/** Left values of the catalogue are DecodeFailure objects; the store wants a string. */
function leftToString(mod: Record<string, unknown>, left: unknown): string {
  if (typeof left === 'string') return left;
  if (isFn(mod.formatDecodeFailure)) return String(mod.formatDecodeFailure(left));
  return JSON.stringify(left);
}

function asEither(mod: Record<string, unknown>, r: unknown): E.Either<string, StorableEvent> {
  const e = r as { _tag?: string; left?: unknown; right?: unknown };
  if (e && e._tag === 'Left') return E.left(leftToString(mod, e.left));
  if (e && e._tag === 'Right') return E.right(e.right as StorableEvent);
  return E.left(`unexpected decode result ${JSON.stringify(r)}`);
}

async function findCatalogueCodec(): Promise<FoundCodec | string> {
  const specifier = '@vnet/events'; // not a literal import: the package may not have an index yet
  let mod: Record<string, unknown>;
  try {
    mod = (await import(specifier)) as Record<string, unknown>;
  } catch (e) {
    return `@vnet/events cannot be loaded (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`;
  }
  for (const name of ['eventCodec', 'domainEventCodec', 'storeCodec', 'eventStoreCodec', 'codec']) {
    const c = mod[name] as { encode?: unknown; decode?: unknown } | undefined;
    if (c && isFn(c.encode) && isFn(c.decode)) {
      const { encode, decode } = c;
      return {
        name: `@vnet/events ${name}`,
        codec: { encode: (ev) => encode.call(c, ev) as Uint8Array, decode: (b) => asEither(mod, decode.call(c, b)) },
      };
    }
  }
  const decode = mod.decodeEventBytes;
  const encode = mod.encodeEventBytes ?? mod.encodeEvent;
  if (isFn(decode) && isFn(encode)) {
    const toBytes = mod.encodeEventBytes === encode;
    const te = new TextEncoder();
    return {
      name: `@vnet/events decodeEventBytes/${toBytes ? 'encodeEventBytes' : 'encodeEvent'}`,
      codec: {
        encode: (ev) => (toBytes ? (encode(ev) as Uint8Array) : te.encode(JSON.stringify(encode(ev)))),
        decode: (b) => asEither(mod, decode(b)),
      },
    };
  }
  return '@vnet/events exports no codec (nor decodeEventBytes + an encoder) yet';
}

// ---------------------------------------------------------------------------------------------
// report

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmtRate = (r: number) => Math.round(r).toLocaleString('en-US');

/** Raw and client measured back to back. */
interface Pair {
  readonly raw: Sample;
  readonly client: Sample;
}

interface Row {
  readonly phase: string;
  readonly pairs: readonly Pair[];
  /** Undefined for reference lines that have no target. */
  readonly target: number | undefined;
}

interface Summary {
  readonly raw: number;
  readonly client: number;
  /** Median of the per-pair client/raw rate ratios. */
  readonly ratio: number;
  /** Median of the per-pair raw/client CPU-per-event ratios (1 = the client costs nothing extra). */
  readonly cpuRatio: number;
  readonly rawCpu: number;
  readonly clientCpu: number;
}

function summarize(r: Row): Summary {
  return {
    raw: median(r.pairs.map((p) => p.raw.rate)),
    client: median(r.pairs.map((p) => p.client.rate)),
    ratio: median(r.pairs.map((p) => p.client.rate / p.raw.rate)),
    cpuRatio: median(r.pairs.map((p) => p.raw.cpuUsPerEvent / p.client.cpuUsPerEvent)),
    rawCpu: median(r.pairs.map((p) => p.raw.cpuUsPerEvent)),
    clientCpu: median(r.pairs.map((p) => p.client.cpuUsPerEvent)),
  };
}

function table(rows: readonly Row[]): string {
  const head = ['phase', 'raw ev/s', 'client ev/s', 'client/raw', 'target', 'result', 'CPU µs/ev raw', 'client', 'CPU ratio'];
  const body = rows.map((r) => {
    const s = summarize(r);
    return [
      r.phase,
      fmtRate(s.raw),
      fmtRate(s.client),
      s.ratio.toFixed(3),
      r.target === undefined ? '-' : `>= ${r.target.toFixed(2)}`,
      r.target === undefined ? '-' : s.ratio >= r.target ? 'PASS' : 'MISS',
      s.rawCpu.toFixed(1),
      s.clientCpu.toFixed(1),
      s.cpuRatio.toFixed(2),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function details(rows: readonly Row[]): string {
  return rows
    .map((r) => {
      const runs = r.pairs.map((p) => `${fmtRate(p.raw.rate)}/${fmtRate(p.client.rate)} (${(p.client.rate / p.raw.rate).toFixed(2)})`);
      return `  ${r.phase.padEnd(26)} ${runs.join(', ')}`;
    })
    .join('\n');
}

const loadavg = async () => (await import('node:os')).loadavg()[0]!.toFixed(2);

// ---------------------------------------------------------------------------------------------
// run

export async function run(args: readonly string[]): Promise<number> {
  let opts: Options;
  try {
    const parsed = parseOptions(args);
    if (parsed === 'help') {
      console.log(HELP);
      return 0;
    }
    opts = parsed;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`bench log: ${e.message}\n\n${HELP}`);
    return 2;
  }
  const external = process.env.NATS_URL;
  if (external && !opts.resetLog) {
    console.error(
      `bench log: NATS_URL=${external} is set; this benchmark deletes and re-creates ${LOG} there.\n` +
        'Pass --reset-log to allow it, or unset NATS_URL to let the benchmark start its own server.',
    );
    return 2;
  }

  // Everything started here is stopped by cleanup(), also on error and on SIGINT/SIGTERM.
  let server: RunningNatsServer | undefined;
  const stores: Array<EventStore<StorableEvent>> = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      await Promise.all(stores.map((s) => s.close().catch(() => undefined)));
      await server?.stop().catch(() => undefined);
    })());
  const onSignal = (sig: NodeJS.Signals) => {
    console.error(`\nbench log: ${sig}, stopping`);
    setTimeout(() => process.exit(130), 10_000).unref(); // stopping must not hang either
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const loadBefore = await loadavg();
    if (!external) server = await startNatsServer();
    const url = external ?? server!.url;
    const store = await EventStore.connect({ servers: url, name: 'bench-log' }, jsonCodec);
    stores.push(store as unknown as EventStore<StorableEvent>);
    const version = store.unsafeContext().nc.info?.version ?? '?';

    const N = opts.events;
    const probe = makeWorkload(1, opts);
    const catalogue = await findCatalogueCodec();
    let validating: EventStore<StorableEvent> | undefined;
    let validatingNote = typeof catalogue === 'string' ? catalogue : catalogue.name;
    if (typeof catalogue !== 'string') {
      if (!probe.catalogueValid) {
        validatingNote = `not measured: --payload-bytes ${opts.payloadBytes} needs a "pad" field the closed catalogue envelope rejects`;
      } else {
        const back = catalogue.codec.decode(jsonCodec.encode(probe.batches[0]!.events[0]!));
        if (E.isLeft(back)) throw new Error(`the benchmark's VmPlaced event does not pass the catalogue: ${back.left}`);
        validating = await EventStore.connect({ servers: url, name: 'bench-log-validating' }, catalogue.codec);
        stores.push(validating);
      }
    } else validatingNote = `not measured: ${catalogue}`;

    const callsInFlight = Math.max(1, Math.floor(opts.window / opts.batch));
    console.log(
      `bench log: N=${N}, window ${opts.window} publishes in flight, client ${opts.batch} events/call x ${callsInFlight} calls in flight, ` +
        `${opts.aggregates} aggregates, ${opts.repeats} append / ${opts.replayRepeats} replay runs per side`,
    );
    console.log(`server: nats-server ${version} at ${url} (${external ? 'NATS_URL' : 'started by the benchmark, temp store'})`);

    const appendPairs: Pair[] = [];
    const replay = { json: [] as Pair[], validating: [] as Pair[], parse: [] as Pair[] };

    const appendRuns = async (n: number, repeats: number, label: string, keep: boolean) => {
      for (let r = 0; r < repeats; r++) {
        const rawFirst = r % 2 === 0;
        // Fresh ids for every run (the stream is re-created anyway, so nothing is deduplicated).
        const wRaw = makeWorkload(n, opts);
        const wClient = makeWorkload(n, opts);
        process.stdout.write(`${label} append ${r + 1}/${repeats}:`);
        let raw: Sample | undefined;
        let client: Sample | undefined;
        for (const side of rawFirst ? ['raw', 'client'] : ['client', 'raw']) {
          if (side === 'raw') raw = await appendRaw(store, wRaw, opts.window);
          else client = await appendClient(store, wClient, opts.window, opts.batch);
          process.stdout.write(` ${side} ${fmtRate(side === 'raw' ? raw!.rate : client!.rate)} ev/s`);
        }
        process.stdout.write('\n');
        if (keep) appendPairs.push({ raw: raw!, client: client! });
      }
    };
    const replayRuns = async (n: number, repeats: number, label: string, keep: boolean) => {
      for (let r = 0; r < repeats; r++) {
        const order: Array<[string, () => Promise<Sample>]> = [
          ['raw', () => replayRaw(store, n, opts.replayBatch)],
          ['client', () => replayClient(store, n, opts.replayBatch)],
          ['raw+JSON.parse', () => replayRaw(store, n, opts.replayBatch, true)],
        ];
        if (validating) order.push(['validating', () => replayClient(validating, n, opts.replayBatch)]);
        if (r % 2 === 1) order.reverse();
        process.stdout.write(`${label} replay ${r + 1}/${repeats}:`);
        const got = new Map<string, Sample>();
        for (const [name, f] of order) {
          const s = await f();
          got.set(name, s);
          process.stdout.write(` ${name} ${fmtRate(s.rate)}`);
        }
        process.stdout.write('\n');
        if (!keep) continue;
        const raw = got.get('raw')!;
        replay.json.push({ raw, client: got.get('client')! });
        replay.parse.push({ raw, client: got.get('raw+JSON.parse')! });
        if (validating) replay.validating.push({ raw, client: got.get('validating')! });
      }
    };

    if (opts.warmup > 0) {
      const w = Math.min(opts.warmup, N);
      await appendRuns(w, 1, 'warm-up', false);
      await replayRuns(w, 1, 'warm-up', false);
    }
    await appendRuns(N, opts.repeats, 'run', true);
    // The log now holds the last append run's N events: the replays read them, after one
    // unmeasured read (the first read after writing is slower on the server side, whoever reads).
    await replayRaw(store, N, opts.replayBatch);
    await replayRuns(N, opts.replayRepeats, 'run', true);
    const loadAfter = await loadavg();

    const rows: Row[] = [
      { phase: 'append', pairs: appendPairs, target: TARGET_APPEND },
      { phase: 'replay (jsonCodec)', pairs: replay.json, target: TARGET_REPLAY },
    ];
    if (validating) rows.push({ phase: 'replay (validating codec)', pairs: replay.validating, target: TARGET_REPLAY });
    const reference: Row = { phase: 'replay raw + JSON.parse', pairs: replay.parse, target: undefined };
    const meanBytes = makeWorkload(Math.min(N, 1000), opts).meanBytes;

    console.log('');
    console.log(
      `N=${N} events, ~${Math.round(meanBytes)} B/event (VmPlaced JSON envelope), window ${opts.window}, ` +
        `client ${opts.batch} events/call x ${callsInFlight}, replay max_messages ${opts.replayBatch}`,
    );
    console.log(`server: nats-server ${version} at ${url}`);
    console.log(
      `setup: ${LOG} deleted and re-created from EVENTS_STREAM before every append run, events on vnet.evt.${CATEGORY}.<vmId>; ` +
        `replays read the last run's ${N} events (filter ${FILTER})`,
    );
    console.log(`validating codec: ${validatingNote}`);
    console.log('');
    console.log(table([...rows, reference]));
    console.log('');
    console.log(
      'client/raw: median of the per-run ratios (raw and client back to back); ev/s: medians. CPU µs/ev: this process\'s CPU\n' +
        'time per event (steadier than wall time on a busy machine); CPU ratio = raw CPU / client CPU.\n' +
        'The last line is a reference, not a target: raw replay plus TextDecoder + JSON.parse of every message.',
    );
    // The benchmark itself keeps about 1.5 cores busy: only the load before it says whether
    // something else was running.
    console.log(
      `load average (1 min): ${loadBefore} before, ${loadAfter} after` +
        (Number(loadBefore) > 1 ? '  (something else was running: expect noise, compare the CPU columns)' : ''),
    );
    console.log('runs (raw/client ev/s, ratio):');
    console.log(details([...rows, reference]));
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}
