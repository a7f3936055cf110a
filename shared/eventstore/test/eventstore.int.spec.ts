/**
 * Contract suite of the event store client, against a real nats-server (one per file, a
 * unique stream name per test).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Objm } from '@nats-io/obj';
import * as E from 'fp-ts/lib/Either.js';
import { ANY, EventStore, NO_STREAM, STREAM_EXISTS, jsonCodec, type StorableEvent, type Topology } from '../src/index';
import { startTestNats, type TestNats } from '../src/testing/harness';

type Ev = StorableEvent & Record<string, unknown>;
const ev = (type: string, n = 0): Ev => ({ id: randomUUID(), type, n });
const topology: Topology = {
  streams: [
    { name: 'VNET_EVENTS', subjects: ['vnet.evt.>'], description: 't', storage: 'file', retention: 'limits', maxAgeMs: 0, maxMsgSize: 1 << 20, maxBytes: -1, duplicateWindowMs: 120_000, replicas: 1, allowDirect: true },
    { name: 'VNET_DLQ', subjects: ['vnet.dlq.>'], description: 'd', storage: 'file', retention: 'limits', maxAgeMs: 0, maxMsgSize: 1 << 21, maxBytes: -1, duplicateWindowMs: 120_000, replicas: 1, allowDirect: false },
  ],
  kv: [{ bucket: 'vnet_checkpoints', history: 1, description: 'c', replicas: 1 }],
  consumers: [],
};
let nats: TestNats;
let store: EventStore<Ev>;
let seq = 0;
const unique = (ctx: string) => `${ctx}.s${++seq}-${Date.now()}`;
const collect = async <T>(it: AsyncIterable<T>) => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};
const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

before(async () => {
  nats = await startTestNats(topology);
  store = await nats.connect(jsonCodec, 'contract');
});
after(async () => nats?.stop());

describe('appendToStream', () => {
  it('NO_STREAM appends to a new stream and returns the next expected revision', async () => {
    const s = unique('host');
    const r = await store.appendToStream(s, [ev('A'), ev('B')], { expectedRevision: NO_STREAM });
    assert.ok(E.isRight(r));
    assert.equal(r.right.positions.length, 2);
    assert.equal(r.right.nextExpectedRevision, r.right.positions[1]);
    assert.equal(await store.currentRevision(s), r.right.nextExpectedRevision);
  });

  it('NO_STREAM on an existing stream is a WrongExpectedVersion value with the actual revision', async () => {
    const s = unique('host');
    const first = await store.appendToStream(s, [ev('A')]);
    assert.ok(E.isRight(first));
    const r = await store.appendToStream(s, [ev('B')], { expectedRevision: NO_STREAM });
    assert.ok(E.isLeft(r));
    assert.deepEqual(r.left, { _tag: 'WrongExpectedVersion', streamName: s, expected: NO_STREAM, actual: first.right.nextExpectedRevision });
  });

  it('a stale revision fails, the current one succeeds', async () => {
    const s = unique('vm');
    const a = await store.appendToStream(s, [ev('A')], { expectedRevision: NO_STREAM });
    assert.ok(E.isRight(a));
    const b = await store.appendToStream(s, [ev('B')], { expectedRevision: a.right.nextExpectedRevision });
    assert.ok(E.isRight(b));
    const stale = await store.appendToStream(s, [ev('C')], { expectedRevision: a.right.nextExpectedRevision });
    assert.ok(E.isLeft(stale) && stale.left._tag === 'WrongExpectedVersion');
    assert.equal(stale.left._tag === 'WrongExpectedVersion' && stale.left.actual, b.right.nextExpectedRevision);
  });

  it('STREAM_EXISTS fails on an empty stream and succeeds on an existing one', async () => {
    const s = unique('vm');
    const r1 = await store.appendToStream(s, [ev('A')], { expectedRevision: STREAM_EXISTS });
    assert.ok(E.isLeft(r1) && r1.left._tag === 'WrongExpectedVersion' && r1.left.actual === 0);
    assert.ok(E.isRight(await store.appendToStream(s, [ev('A')], { expectedRevision: ANY })));
    assert.ok(E.isRight(await store.appendToStream(s, [ev('B')], { expectedRevision: STREAM_EXISTS })));
    assert.equal((await collect(store.readStream(s))).length, 2);
  });

  it('is idempotent: the same event appended twice is stored once, even with a stale expectation', async () => {
    const s = unique('net');
    const e1 = ev('A');
    const e2 = ev('B');
    const r1 = await store.appendToStream(s, [e1, e2], { expectedRevision: NO_STREAM });
    assert.ok(E.isRight(r1));
    const r2 = await store.appendToStream(s, [e1, e2], { expectedRevision: NO_STREAM });
    assert.ok(E.isRight(r2), 'a retried append is answered from the dedup window');
    assert.deepEqual(r2.right.positions, r1.right.positions);
    assert.equal(r2.right.duplicates, 2);
    const r3 = await store.appendToStream(s, [e1]);
    assert.ok(E.isRight(r3) && r3.right.duplicates === 1);
    const stored = await collect(store.readStream(s));
    assert.deepEqual(stored.map((r) => r.event.id), [e1.id, e2.id]);
  });

  it('concurrent writers with the same expectation: exactly one wins', async () => {
    const s = unique('vm');
    const base = await store.appendToStream(s, [ev('A')]);
    assert.ok(E.isRight(base));
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => store.appendToStream(s, [ev('W', i)], { expectedRevision: base.right.nextExpectedRevision })),
    );
    assert.equal(results.filter(E.isRight).length, 1);
    assert.equal(results.filter((r) => E.isLeft(r) && r.left._tag === 'WrongExpectedVersion').length, 7);
  });

  it('a revision expected on an empty stream is a WrongExpectedVersion with actual 0', async () => {
    const s = unique('vm');
    const r = await store.appendToStream(s, [ev('A')], { expectedRevision: 5 });
    assert.ok(E.isLeft(r));
    assert.deepEqual(r.left, { _tag: 'WrongExpectedVersion', streamName: s, expected: 5, actual: 0 });
  });

  it('STREAM_EXISTS is not a conflict when concurrent appends move the revision', async () => {
    const s = unique('vm');
    await store.appendToStream(s, [ev('A')]);
    const rs = await Promise.all(Array.from({ length: 6 }, (_, i) => store.appendToStream(s, [ev('B', i)], { expectedRevision: STREAM_EXISTS })));
    assert.ok(rs.every(E.isRight));
    assert.equal((await collect(store.readStream(s))).length, 7);
  });

  it('rejects an invalid stream name as a bug', async () => {
    await assert.rejects(store.appendToStream('host.a b', [ev('A')]), /invalid stream name "host.a b"/);
    await assert.rejects(store.appendToStream('host.*', [ev('A')]), /invalid stream name/);
  });
});

describe('reading', () => {
  it('readStream reads forwards from a revision, and an unknown stream is empty', async () => {
    const s = unique('host');
    const r = await store.appendToStream(s, [ev('A', 1), ev('B', 2), ev('C', 3)]);
    assert.ok(E.isRight(r));
    const all = await collect(store.readStream(s));
    assert.deepEqual(all.map((x) => x.event.n), [1, 2, 3]);
    assert.ok(all.every((x) => x.streamName === s));
    const tail = await collect(store.readStream(s, { fromRevision: r.right.positions[1]! }));
    assert.deepEqual(tail.map((x) => x.event.n), [2, 3]);
    assert.deepEqual(await collect(store.readStream(unique('host'))), []);
  });

  it('readAll reads from a position and from a time, ending at the end of the log', async () => {
    const s = unique('region');
    await store.appendToStream(s, [ev('Early')]);
    await new Promise((r) => setTimeout(r, 30));
    const t = new Date();
    await new Promise((r) => setTimeout(r, 30));
    const r = await store.appendToStream(s, [ev('Late', 1), ev('Late', 2)]);
    assert.ok(E.isRight(r));
    const fromPos = await collect(store.readAll({ fromPosition: r.right.positions[0]! }));
    assert.deepEqual(fromPos.map((x) => x.event.type), ['Late', 'Late']);
    const fromTime = await collect(store.readAll({ fromTime: t }));
    assert.ok(fromTime.length >= 2 && fromTime.every((x) => x.event.type === 'Late' || x.created >= t));
    assert.ok(!fromTime.some((x) => x.event.type === 'Early'));
    const positions = (await collect(store.readAll())).map((x) => x.position);
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b), 'in order');
  });

  it('ends at once when nothing matches: an empty filter, a position past the end, a future time', async () => {
    await store.appendToStream(unique('edge'), [ev('A')]);
    const t0 = Date.now();
    assert.deepEqual(await collect(store.readAll({ filter: 'vnet.evt.nothing-here.>' })), []);
    assert.deepEqual(await collect(store.readAll({ fromPosition: (await store.lastPosition()) + 10 })), []);
    assert.deepEqual(await collect(store.readAll({ fromTime: new Date(Date.now() + 3_600_000) })), []);
    assert.ok(Date.now() - t0 < 3000, 'no read waited for events that will not come');
  });

  it('leaves no consumer behind on the server', async () => {
    const s = unique('host');
    await store.appendToStream(s, [ev('A'), ev('B')]);
    const countConsumers = async () => {
      let n = 0;
      for await (const _ of store.unsafeContext().jsm.consumers.list('VNET_EVENTS')) n++;
      return n;
    };
    const before = await countConsumers();
    for (let i = 0; i < 10; i++) await collect(store.readStream(s));
    for (let i = 0; i < 5; i++) await collect(store.readStream(unique('host')));
    assert.equal(await countConsumers(), before);
  });

  it('a live readAll delivers events appended after it started, until aborted', async () => {
    const cat = `live${Date.now()}`;
    const ac = new AbortController();
    const got: number[] = [];
    const reader = (async () => {
      for await (const x of store.readAll({ filter: `vnet.evt.${cat}.>`, live: true, signal: ac.signal })) got.push(x.event.n as number);
    })();
    await store.appendToStream(`${cat}.a`, [ev('X', 1)]);
    await store.appendToStream(`${cat}.b`, [ev('X', 2)]);
    await until(() => got.length === 2);
    ac.abort();
    await reader;
    assert.deepEqual(got, [1, 2]);
  });
});

describe('forEachEvent (readAll with a handler)', () => {
  const each = async (opts: Parameters<typeof store.forEachEvent>[0]) => {
    const got: Array<{ n: unknown; position: number }> = [];
    await store.forEachEvent(opts, (x) => got.push({ n: x.event.n, position: x.position }));
    return got;
  };

  it('hands over the same events in the same order as readAll, and ends at the end of the log', async () => {
    const cat = `each${Date.now()}`;
    for (let i = 1; i <= 30; i++) await store.appendToStream(`${cat}.s${i % 3}`, [ev('E', i)]);
    const filter = `vnet.evt.${cat}.>`;
    const viaIterator = (await collect(store.readAll({ filter }))).map((x) => ({ n: x.event.n, position: x.position }));
    const viaHandler = await each({ filter, batch: 7 });
    assert.equal(viaHandler.length, 30);
    assert.deepEqual(viaHandler, viaIterator);
    const from = viaHandler[10]!.position;
    assert.deepEqual(await each({ filter, fromPosition: from }), viaIterator.slice(10));
  });

  it('ends at once when nothing matches', async () => {
    const t0 = Date.now();
    assert.deepEqual(await each({ filter: 'vnet.evt.nothing-here-either.>' }), []);
    assert.deepEqual(await each({ fromPosition: (await store.lastPosition()) + 10 }), []);
    assert.ok(Date.now() - t0 < 3000);
  });

  it('rejects with what the handler threw and handles nothing after it', async () => {
    const cat = `eachfail${Date.now()}`;
    await store.appendToStream(`${cat}.a`, [ev('E', 1), ev('E', 2), ev('E', 3)]);
    const seen: unknown[] = [];
    await assert.rejects(
      store.forEachEvent({ filter: `vnet.evt.${cat}.>` }, (x) => {
        seen.push(x.event.n);
        if (x.event.n === 2) throw new Error('handler failed on 2');
      }),
      /handler failed on 2/,
    );
    assert.deepEqual(seen, [1, 2]);
  });

  it('follows live until aborted, and leaves no consumer behind', async () => {
    const cat = `eachlive${Date.now()}`;
    const countConsumers = async () => {
      let n = 0;
      for await (const _ of store.unsafeContext().jsm.consumers.list('VNET_EVENTS')) n++;
      return n;
    };
    const before = await countConsumers();
    const ac = new AbortController();
    const got: number[] = [];
    const reading = store.forEachEvent({ filter: `vnet.evt.${cat}.>`, live: true, signal: ac.signal }, (x) => got.push(x.event.n as number));
    await store.appendToStream(`${cat}.a`, [ev('X', 1)]);
    await store.appendToStream(`${cat}.b`, [ev('X', 2)]);
    await until(() => got.length === 2);
    ac.abort();
    await reading;
    assert.deepEqual(got, [1, 2]);
    assert.equal(await countConsumers(), before);
  });
});

describe('durable subscriptions', () => {
  it('catch up then live, resume after restart without reprocessing acked events', async () => {
    const cat = `sub${Date.now()}`;
    await store.appendToStream(`${cat}.x`, [ev('E', 1), ev('E', 2)]);
    const seen: number[] = [];
    let sub = await store.subscribe({ name: `${cat}-p`, filter: `vnet.evt.${cat}.>` }, async (r) => void seen.push(r.event.n as number));
    await store.appendToStream(`${cat}.x`, [ev('E', 3)]);
    await until(() => seen.length === 3);
    await sub.stop();
    await new Promise((r) => setTimeout(r, 100));
    await store.appendToStream(`${cat}.x`, [ev('E', 4)]);
    const other = await nats.connect(jsonCodec, 'restarted');
    sub = await other.subscribe({ name: `${cat}-p`, filter: `vnet.evt.${cat}.>` }, async (r) => void seen.push(r.event.n as number));
    await until(() => seen.length === 4);
    await new Promise((r) => setTimeout(r, 200));
    await sub.stop();
    assert.deepEqual(seen, [1, 2, 3, 4]);
  });

  it('redelivers after a failed handler, and dead-letters after maxDeliver', async () => {
    const cat = `retry${Date.now()}`;
    const attempts = new Map<number, number>();
    const sub = await store.subscribe({ name: `${cat}-r`, filter: `vnet.evt.${cat}.>`, maxDeliver: 3, retryDelayMs: 20 }, async (r) => {
      const n = r.event.n as number;
      attempts.set(n, (attempts.get(n) ?? 0) + 1);
      if (n === 1 && attempts.get(n)! < 2) throw new Error('transient');
      if (n === 2) throw new Error('always broken');
    });
    await store.appendToStream(`${cat}.x`, [ev('E', 1), ev('E', 2)]);
    await until(() => attempts.get(1) === 2 && attempts.get(2) === 3);
    const dlq: string[] = [];
    await until(() => false, 300).catch(() => undefined);
    for await (const m of store.readRaw({ stream: 'VNET_DLQ', filter: `vnet.dlq.sub.${cat}-r` })) dlq.push(m.headers['Vnet-Reason'] ?? '');
    await sub.stop();
    assert.equal(dlq.length, 1);
    assert.match(dlq[0]!, /failed 3 times: always broken/);
  });

  it('keeps a failed message while its dead letter cannot be stored, and dead-letters it later', async () => {
    const cat = `nodlq${Date.now()}`;
    const jsm = store.unsafeContext().jsm;
    const dlqConfig = (await jsm.streams.info('VNET_DLQ')).config;
    await jsm.streams.delete('VNET_DLQ');
    let attempts = 0;
    const sub = await store.subscribe({ name: `${cat}-d`, filter: `vnet.evt.${cat}.>`, maxDeliver: 2, retryDelayMs: 20 }, async () => {
      attempts++;
      throw new Error('broken handler');
    });
    try {
      await store.appendToStream(`${cat}.x`, [ev('E', 1)]);
      await until(() => attempts >= 3, 10_000); // past maxDeliver: the dead letter failed, the message stayed
      await jsm.streams.add(dlqConfig);
      const found = async () => {
        for await (const m of store.readRaw({ stream: 'VNET_DLQ', filter: `vnet.dlq.sub.${cat}-d` })) return m;
        return undefined;
      };
      let dl;
      for (let i = 0; i < 100 && !(dl = await found()); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(dl, 'dead letter stored once the stream is back');
      assert.match(dl.headers['Vnet-Reason'] ?? '', /broken handler/);
    } finally {
      await sub.stop();
      if (!(await jsm.streams.info('VNET_DLQ').catch(() => undefined))) await jsm.streams.add(dlqConfig);
    }
  });

  it('instances sharing a subscription each get a share, and no event is handled twice', async () => {
    const cat = `share${Date.now()}`;
    const a: number[] = [];
    const b: number[] = [];
    const storeB = await nats.connect(jsonCodec, 'instance-b');
    const slow = () => new Promise<void>((r) => setTimeout(r, 2));
    const subA = await store.subscribe({ name: `${cat}-s`, filter: `vnet.evt.${cat}.>`, batch: 10 }, async (r) => (a.push(r.event.n as number), slow()));
    const subB = await storeB.subscribe({ name: `${cat}-s`, filter: `vnet.evt.${cat}.>`, batch: 10 }, async (r) => (b.push(r.event.n as number), slow()));
    const n = 300;
    for (let i = 0; i < n; i += 50) await store.appendToStream(`${cat}.x`, Array.from({ length: 50 }, (_, j) => ev('E', i + j)));
    await until(() => a.length + b.length >= n, 15000);
    await new Promise((r) => setTimeout(r, 200));
    await Promise.all([subA.stop(), subB.stop()]);
    assert.equal(a.length + b.length, n, 'none twice');
    assert.equal(new Set([...a, ...b]).size, n, 'all handled');
    assert.ok(a.length > 0 && b.length > 0, `both got a share (a=${a.length}, b=${b.length})`);
  });
  it('with concurrency: one key at a time and in order, different keys at once, never more than maxInFlight', async () => {
    const cat = `conc${Date.now()}`;
    // 4 keys × 25 events, each handled in 5 ms.
    const evs = Array.from({ length: 100 }, (_, i) => ({ ...ev('E', i), key: `k${i % 4}` }));
    await store.appendToStream(`${cat}.x`, evs);
    const order = new Map<string, number[]>();
    const running = new Set<string>();
    let now = 0;
    let most = 0;
    let overlap = false;
    const sub = await store.subscribe(
      { name: `${cat}-c`, filter: `vnet.evt.${cat}.>` },
      async (r) => {
        const key = r.event.key as string;
        if (running.has(key)) overlap = true;
        running.add(key);
        most = Math.max(most, ++now);
        await new Promise((res) => setTimeout(res, 5));
        (order.get(key) ?? order.set(key, []).get(key)!).push(r.event.n as number);
        running.delete(key);
        now--;
      },
      { key: (r) => r.event.key as string, maxInFlight: 3 },
    );
    await until(() => [...order.values()].reduce((n, l) => n + l.length, 0) === 100, 10_000);
    await sub.stop();
    assert.equal(overlap, false, 'two events of one key were in hand at once');
    for (const [key, ns] of order) assert.deepEqual(ns, [...ns].sort((x, y) => x - y), `key ${key} in order`);
    assert.equal(most, 3, 'up to maxInFlight at once');
  });
});

describe('projection runner', () => {
  it('folds events into a model and resumes from its checkpoint', async () => {
    const cat = `proj${Date.now()}`;
    const spec = {
      name: `${cat}-count`,
      filter: `vnet.evt.${cat}.>`,
      initialState: { count: 0, sum: 0 },
      evolve: (s: { count: number; sum: number }, r: { event: Ev }) => ({ count: s.count + 1, sum: s.sum + (r.event.n as number) }),
      checkpointEvery: 2,
    };
    await store.appendToStream(`${cat}.x`, [ev('E', 1), ev('E', 2), ev('E', 3)]);
    const p1 = await store.runProjection(spec);
    await p1.waitFor(await store.lastPosition());
    assert.deepEqual(p1.state(), { count: 3, sum: 6 });
    await p1.stop();
    const r = await store.appendToStream(`${cat}.x`, [ev('E', 10)]);
    assert.ok(E.isRight(r));
    let folded = 0;
    const p2 = await store.runProjection({ ...spec, evolve: (s, e) => (folded++, spec.evolve(s, e)) });
    await p2.waitFor(r.right.nextExpectedRevision);
    await p2.stop();
    assert.deepEqual(p2.state(), { count: 4, sum: 16 });
    assert.equal(folded, 1, 'only the tail was read after the restart');
  });
});

describe('projection after a crash', () => {
  it('resumes from the last checkpoint, not from a clean stop, and ends in the same state', async () => {
    const cat = `crash${Date.now()}`;
    const spec = {
      name: `${cat}-sum`,
      filter: `vnet.evt.${cat}.>`,
      initialState: { count: 0, sum: 0 },
      evolve: (s: { count: number; sum: number }, r: { event: Ev }) => ({ count: s.count + 1, sum: s.sum + (r.event.n as number) }),
      checkpointEvery: 4, // checkpoints at the 1st, 5th and 9th event: the 10th is folded again
      checkpointIntervalMs: 60_000,
    };
    const crashing = await nats.connect(jsonCodec, 'crashing');
    const r = await store.appendToStream(`${cat}.x`, Array.from({ length: 10 }, (_, i) => ev('E', i + 1)));
    assert.ok(E.isRight(r));
    const p1 = await crashing.runProjection(spec);
    await p1.waitFor(r.right.nextExpectedRevision);
    await crashing.close(); // no stop(): the last events were folded but not checkpointed
    let folded = 0;
    const p2 = await store.runProjection({ ...spec, evolve: (s, e) => (folded++, spec.evolve(s, e)) });
    await p2.waitFor(r.right.nextExpectedRevision);
    await p2.stop();
    assert.deepEqual(p2.state(), { count: 10, sum: 55 });
    assert.ok(folded > 0 && folded < 10, `only the events after the checkpoint were folded again (${folded})`);
  });
});

describe('snapshots', () => {
  it('stores bytes with their log position, replaces them, and is absent until saved', async () => {
    const name = `snap-${Date.now()}`;
    assert.equal(await store.loadSnapshot(name), undefined);
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
    await store.saveSnapshot(name, 41, big);
    const s1 = await store.loadSnapshot(name);
    assert.equal(s1?.position, 41);
    assert.deepEqual(Buffer.from(s1!.data), Buffer.from(big));
    await store.saveSnapshot(name, 99, new TextEncoder().encode('second'));
    const s2 = await store.loadSnapshot(name);
    assert.equal(s2?.position, 99);
    assert.equal(new TextDecoder().decode(s2!.data), 'second');
  });

  it('stores the bytes compressed, reads incompressible bytes back too, and reads snapshots of older builds (uncompressed)', async () => {
    const name = `snapz-${Date.now()}`;
    const tables = new Uint8Array(2 * 1024 * 1024).map((_, i) => (i % 64 < 48 ? 65 + (i % 7) : i & 255));
    await store.saveSnapshot(name, 7, tables);
    const os = await new Objm(store.unsafeContext().js).open('vnet_snapshots');
    const info = await os.info(name);
    assert.ok(info && info.size < tables.byteLength / 2, `stored ${info?.size} bytes for ${tables.byteLength}`);
    assert.deepEqual(Buffer.from((await store.loadSnapshot(name))!.data), Buffer.from(tables));
    const noise = randomBytes(300_000);
    await store.saveSnapshot(name, 8, noise);
    assert.deepEqual(Buffer.from((await store.loadSnapshot(name))!.data), noise);
    // As an older build stored it: no encoding in the description.
    await os.putBlob({ name, description: JSON.stringify({ position: 9, takenAt: new Date().toISOString() }) }, tables);
    const legacy = await store.loadSnapshot(name);
    assert.equal(legacy?.position, 9);
    assert.deepEqual(Buffer.from(legacy!.data), Buffer.from(tables));
    await os.putBlob({ name, description: JSON.stringify({ position: 10, encoding: 'lz99' }) }, tables);
    await assert.rejects(store.loadSnapshot(name), /encoding "lz99"/);
  });
});

describe('topology', () => {
  it('applying the same topology twice changes nothing the second time', async () => {
    const again = await store.applyTopology(topology);
    assert.deepEqual(again.created, []);
    assert.deepEqual(again.updated, []);
    assert.equal(again.unchanged.length, 3);
  });
});
