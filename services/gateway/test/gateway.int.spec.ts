/**
 * The gateway process against a real nats-server: valid events reach the log once, the rest
 * reach the dead letters with a reason and the original bytes, and nothing crashes it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import fc from 'fast-check';
import { validateExternal } from '@vnet/events';
import { arbitraryDomainEvent } from '@vnet/events/testing';
import type { EventStore, StorableEvent } from '@vnet/eventstore';
import { vnetTopology } from '@vnet/topology';
import { startService, startTestNats, until, type ServiceProcess, type TestNats } from '@vnet/eventstore/testing';

type Json = StorableEvent & Record<string, unknown>;
const enc = new TextEncoder();
let nats: TestNats;
let store: EventStore<Json>;
let gw: ServiceProcess;

async function logCounts(): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for await (const r of store.readAll()) ids.set(r.event.id, (ids.get(r.event.id) ?? 0) + 1);
  return ids;
}

async function logIds(): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const r of store.readAll()) ids.add(r.event.id);
  return ids;
}

interface DeadLetter {
  readonly headers: Readonly<Record<string, string>>;
  readonly data: Uint8Array;
}

async function deadLetters(): Promise<Map<number, DeadLetter>> {
  const out = new Map<number, DeadLetter>();
  for await (const m of store.readRaw({ stream: 'VNET_DLQ', filter: 'vnet.dlq.ext.>' })) {
    out.set(Number(m.headers['Vnet-Ingest-Position']), { headers: m.headers, data: m.data });
  }
  return out;
}

async function publish(subject: string, bytes: Uint8Array): Promise<number> {
  const r = await store.publishRaw(subject, bytes);
  assert.ok(E.isRight(r), 'ingest accepted the bytes');
  return r.right.position;
}

before(async () => {
  nats = await startTestNats(vnetTopology());
  store = await nats.connectJson('gateway-test');
  gw = await startService('gateway', nats.url);
});

after(async () => {
  await gw?.stop();
  await nats?.stop();
});

const region = (regionId: string) => ({
  type: 'RegionDeclared',
  schemaVersion: 1,
  id: randomUUID(),
  causationId: null,
  correlationId: randomUUID(),
  occurredAt: new Date().toISOString(),
  payload: { regionId, name: regionId },
});

describe('gateway', () => {
  it('appends a valid event once, even when it is sent again', async () => {
    const ev = region('r-once');
    await publish('vnet.ext.RegionDeclared', enc.encode(JSON.stringify(ev)));
    await publish('vnet.ext.RegionDeclared', enc.encode(JSON.stringify(ev)));
    await until(async () => ((await logIds()).has(ev.id) ? true : undefined), 'event in the log');
    await new Promise((r) => setTimeout(r, 300));
    const stored = [];
    for await (const r of store.readStream('region.r-once')) stored.push(r.event.id);
    assert.deepEqual(stored, [ev.id]);
  });

  it('dead-letters an invalid event with the reason and the original bytes', async () => {
    const bad = { ...region('r-bad'), payload: { regionId: 'r-bad', name: 'x', colour: 'red' } };
    const bytes = enc.encode(JSON.stringify(bad));
    const pos = await publish('vnet.ext.RegionDeclared', bytes);
    const dl = await until(async () => (await deadLetters()).get(pos), 'dead letter');
    assert.match(dl.headers['Vnet-Reason']!, /colour/);
    assert.deepEqual(Buffer.from(dl.data), Buffer.from(bytes));
    assert.ok(!(await logIds()).has(bad.id));
  });

  it('rejects an event over 1 MiB and keeps its digest and size', async () => {
    const big = { ...region('r-big'), payload: { regionId: 'r-big', name: 'x'.repeat(1024 * 1024) } };
    const bytes = enc.encode(JSON.stringify(big));
    const pos = await publish('vnet.ext.RegionDeclared', bytes);
    const dl = await until(async () => (await deadLetters()).get(pos), 'dead letter');
    assert.equal(dl.headers['Vnet-Rejection'], 'oversized');
    assert.equal(Number(dl.headers['Vnet-Original-Size']), bytes.byteLength);
    assert.ok(dl.data.byteLength < bytes.byteLength);
  });

  it('property: every random, mutated or re-sent input ends in exactly one place, valid ones in the log, and the gateway stays up', async () => {
    type Input = { readonly kind: 'object'; readonly value: unknown } | { readonly kind: 'bytes'; readonly value: Uint8Array };
    const anyEvent = arbitraryDomainEvent.map((e) => JSON.parse(JSON.stringify(e)) as Record<string, unknown>);
    const input: fc.Arbitrary<Input> = fc.oneof(
      { weight: 3, arbitrary: anyEvent.map((value) => ({ kind: 'object' as const, value })) },
      {
        weight: 3,
        arbitrary: fc
          .tuple(anyEvent, fc.constantFrom('type', 'schemaVersion', 'payload', 'occurredAt', 'id', 'causationId', 'extra'), fc.jsonValue())
          .map(([e, key, v]) => ({ kind: 'object' as const, value: { ...e, [key]: v } })),
      },
      {
        weight: 2,
        arbitrary: fc
          .tuple(anyEvent, fc.string({ minLength: 1, maxLength: 12 }), fc.jsonValue())
          .map(([e, key, v]) => ({ kind: 'object' as const, value: { ...e, payload: { ...(e.payload as object), [key]: v } } })),
      },
      { weight: 1, arbitrary: fc.jsonValue().map((value) => ({ kind: 'object' as const, value })) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((value) => ({ kind: 'bytes' as const, value })) },
      {
        weight: 1,
        arbitrary: fc.tuple(anyEvent, fc.nat()).map(([e, cut]) => {
          const text = JSON.stringify(e);
          return { kind: 'bytes' as const, value: enc.encode(text.slice(0, cut % text.length)) };
        }),
      },
    );
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(input, fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 25 }),
        async (cases) => {
          const sent: Array<{ position: number; id?: string; valid: boolean }> = [];
          for (const [inp, typedSubject, resend] of cases) {
            let bytes = inp.value as Uint8Array;
            let id: string | undefined;
            let subject = 'vnet.ext.input';
            if (inp.kind === 'object') {
              const v = inp.value;
              if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
                const o = { ...(v as Record<string, unknown>) };
                // A fresh id per case, so that two cases never collide in the dedup window.
                if (typeof o.id === 'string' && uuid.test(o.id)) o.id = id = randomUUID();
                if (typedSubject && typeof o.type === 'string' && /^[A-Z][A-Za-z]+$/.test(o.type)) subject = `vnet.ext.${o.type}`;
                bytes = enc.encode(JSON.stringify(o));
              } else bytes = enc.encode(JSON.stringify(v));
            }
            // The oracle: what the catalogue (not the gateway) says of these bytes.
            const valid = E.isRight(validateExternal(subject, bytes));
            sent.push({ position: await publish(subject, bytes), ...(id ? { id } : {}), valid });
            if (resend) sent.push({ position: await publish(subject, bytes), ...(id ? { id } : {}), valid });
          }
          const settled = await until(async () => {
            const [ids, dl] = await Promise.all([logCounts(), deadLetters()]);
            const done = sent.every((s) => dl.has(s.position) || (s.id !== undefined && ids.has(s.id)));
            return done ? { ids, dl } : undefined;
          }, 'every input accounted for');
          for (const s of sent) {
            const inLog = s.id !== undefined && settled.ids.has(s.id);
            const inDlq = settled.dl.has(s.position);
            assert.ok(inLog !== inDlq, `input at ingest position ${s.position}: in log=${inLog}, in dead letters=${inDlq}`);
            assert.equal(inLog, s.valid, `input at ingest position ${s.position}: valid=${s.valid} but in log=${inLog}`);
            if (inLog) assert.equal(settled.ids.get(s.id!), 1, 'a re-sent event is stored once');
          }
        },
      ),
      { numRuns: 25 },
    );
    assert.equal(gw.proc.exitCode, null, 'the gateway is still running');
    assert.ok((await fetch(`${gw.health}/healthz`)).ok);
    const metrics = await (await fetch(`${gw.health}/metrics`)).text();
    assert.match(metrics, /vnet_gateway_rejected_total\{[^}]*kind="invalid"/);
    assert.match(metrics, /vnet_gateway_accepted_total/);
  });
});
