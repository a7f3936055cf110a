/**
 * The gateway process against a real nats-server: valid events reach the log once, the rest
 * reach the dead letters with a reason and the original bytes, and nothing crashes it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import fc from 'fast-check';
import { arbitraryDomainEvent } from '@vnet/events/testing';
import type { EventStore, StorableEvent } from '@vnet/eventstore';
import { startTestNats, type TestNats } from '@vnet/eventstore/testing';
import { vnetTopology } from '@vnet/topology';
import { startGateway, until, type GatewayProcess } from './support';

type Json = StorableEvent & Record<string, unknown>;
const enc = new TextEncoder();
let nats: TestNats;
let store: EventStore<Json>;
let gw: GatewayProcess;

async function logIds(): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const r of store.readAll()) ids.add(r.event.id);
  return ids;
}

async function deadLetters(): Promise<Map<number, Record<string, string> & { data: Uint8Array }>> {
  const out = new Map<number, Record<string, string> & { data: Uint8Array }>();
  for await (const m of store.readRaw({ stream: 'VNET_DLQ', filter: 'vnet.dlq.ext.>' })) {
    out.set(Number(m.headers['Vnet-Ingest-Position']), { ...m.headers, data: m.data });
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
  gw = await startGateway(nats.url);
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
    assert.match(dl['Vnet-Reason']!, /colour/);
    assert.deepEqual(Buffer.from(dl.data), Buffer.from(bytes));
    assert.ok(!(await logIds()).has(bad.id));
  });

  it('rejects an event over 1 MiB and keeps its digest and size', async () => {
    const big = { ...region('r-big'), payload: { regionId: 'r-big', name: 'x'.repeat(1024 * 1024) } };
    const bytes = enc.encode(JSON.stringify(big));
    const pos = await publish('vnet.ext.RegionDeclared', bytes);
    const dl = await until(async () => (await deadLetters()).get(pos), 'dead letter');
    assert.equal(dl['Vnet-Rejection'], 'oversized');
    assert.equal(Number(dl['Vnet-Original-Size']), bytes.byteLength);
    assert.ok(dl.data.byteLength < bytes.byteLength);
  });

  it('property: every random or mutated input ends in exactly one place, and the gateway stays up', async () => {
    const mutated = fc.oneof(
      { weight: 3, arbitrary: arbitraryDomainEvent.map((e) => ({ kind: 'valid' as const, value: e as unknown })) },
      {
        weight: 3,
        arbitrary: fc
          .tuple(arbitraryDomainEvent, fc.constantFrom('type', 'schemaVersion', 'payload', 'occurredAt', 'id', 'extra'), fc.jsonValue())
          .map(([e, key, v]) => ({ kind: 'mutated' as const, value: { ...(e as object), [key]: v } as unknown })),
      },
      {
        weight: 2,
        arbitrary: fc
          .tuple(arbitraryDomainEvent, fc.string({ minLength: 1, maxLength: 12 }), fc.jsonValue())
          .map(([e, key, v]) => ({ kind: 'mutated' as const, value: { ...(e as any), payload: { ...(e as any).payload, [key]: v } } as unknown })),
      },
      { weight: 1, arbitrary: fc.json().map((s) => ({ kind: 'raw' as const, value: s })) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => ({ kind: 'bytes' as const, value: b as unknown })) },
      {
        weight: 1,
        arbitrary: fc.tuple(arbitraryDomainEvent, fc.nat()).map(([e, cut]) => {
          const s = JSON.stringify(e);
          return { kind: 'raw' as const, value: s.slice(0, cut % s.length) };
        }),
      },
    );
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
    await fc.assert(
      fc.asyncProperty(fc.array(mutated, { minLength: 1, maxLength: 25 }), async (inputs) => {
        const sent: Array<{ position: number; id?: string }> = [];
        for (const input of inputs) {
          let bytes: Uint8Array;
          let id: string | undefined;
          if (input.kind === 'bytes') bytes = input.value as Uint8Array;
          else if (input.kind === 'raw') bytes = enc.encode(input.value as string);
          else {
            const o = { ...(input.value as Record<string, unknown>) };
            if (typeof o.id === 'string' && uuid.test(o.id)) o.id = id = randomUUID(); // unique per input
            bytes = enc.encode(JSON.stringify(o));
          }
          sent.push({ position: await publish('vnet.ext.input', bytes), ...(id ? { id } : {}) });
        }
        const settled = await until(async () => {
          const [ids, dl] = await Promise.all([logIds(), deadLetters()]);
          const done = sent.every((s) => dl.has(s.position) || (s.id !== undefined && ids.has(s.id)));
          return done ? { ids, dl } : undefined;
        }, 'every input accounted for');
        for (const s of sent) {
          const inLog = s.id !== undefined && settled.ids.has(s.id);
          const inDlq = settled.dl.has(s.position);
          assert.ok(inLog !== inDlq, `input at ingest position ${s.position}: in log=${inLog}, in dead letters=${inDlq}`);
        }
      }),
      { numRuns: 25 },
    );
    assert.equal(gw.proc.exitCode, null, 'the gateway is still running');
    assert.ok((await fetch(`${gw.health}/healthz`)).ok);
    const metrics = await (await fetch(`${gw.health}/metrics`)).text();
    assert.match(metrics, /vnet_gateway_rejected_total/);
  });
});
