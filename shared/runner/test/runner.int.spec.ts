/**
 * The runner's rebuild against a real log: stored outputs win over re-decided ones, what a
 * crash left unwritten is found, and with `redecideOnRebuild: false` an input whose outputs
 * the log holds is folded without being decided again (a costly, random decider restarts in
 * the time folding takes).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { DatacenterId, DisplayName, domainEventCodec, mustDecode, newEvent, RegionId, streamNameOf, type DomainEvent, type EventOf } from '@vnet/events';
import type { EventStore } from '@vnet/eventstore';
import { startTestNats, type TestNats } from '@vnet/eventstore/testing';
import { vnetTopology } from '@vnet/topology';
import { materialize, rebuild, type DeciderSpec } from '../src/index';

type In = EventOf<'RegionDeclared'>;
type Out = { readonly type: 'DatacenterDeclared'; readonly payload: EventOf<'DatacenterDeclared'>['payload'] };
interface State {
  readonly dcs: string[];
}

/** Each region gets one datacenter, named with a counter (so a re-decision differs from the stored one). */
function spec(redecideOnRebuild: boolean, calls: { n: number }): DeciderSpec<State, In, Out> {
  return {
    name: 'runner-test',
    initial: () => ({ dcs: [] }),
    isInput: (ev): ev is In => ev.type === 'RegionDeclared',
    isOutput: (ev) => ev.type === 'DatacenterDeclared',
    decide: (_s, e) => {
      calls.n++;
      return [
        {
          type: 'DatacenterDeclared',
          payload: { datacenterId: mustDecode(DatacenterId, `${e.payload.regionId}-dc`), regionId: e.payload.regionId, name: mustDecode(DisplayName, `decided ${calls.n}`) },
        },
      ];
    },
    apply: (s, _e, ds) => ({ dcs: [...s.dcs, ...ds.map((d) => `${d.payload.datacenterId}:${d.payload.name}`)] }),
    outputKey: (o) => o.payload.datacenterId,
    redecideOnRebuild,
  };
}

describe('runner rebuild', () => {
  let nats: TestNats;
  let store: EventStore<DomainEvent>;
  const append = async (...evs: DomainEvent[]) => {
    for (const ev of evs) assert.ok(E.isRight(await store.appendToStream(streamNameOf(ev), [ev])));
  };

  before(async () => {
    nats = await startTestNats(vnetTopology());
    store = await nats.connect(domainEventCodec, 'runner-test');
    // Three regions; the first two have their stored datacenter ("stored"), the third none (a crash).
    const regions = ['r1', 'r2', 'r3'].map((r) => newEvent('RegionDeclared', { regionId: mustDecode(RegionId, r), name: mustDecode(DisplayName, r) }));
    await append(...regions);
    const first = spec(true, { n: 0 });
    for (const r of regions.slice(0, 2)) {
      const [out] = materialize(first, r, first.decide({ dcs: [] }, r), new Date());
      await append({ ...out!, payload: { ...(out!.payload as object), name: 'stored' } } as DomainEvent);
    }
  });
  after(async () => nats?.stop());

  it('decides every input again by default, and applies what the log holds', async () => {
    const calls = { n: 0 };
    const r = await rebuild(store, spec(true, calls));
    assert.equal(calls.n, 3);
    assert.equal(r.redecided, 3);
    assert.deepEqual(r.state.dcs, ['r1-dc:stored', 'r2-dc:stored', 'r3-dc:decided 3']);
    assert.deepEqual(r.missing.map((m) => (m.payload as { datacenterId: string }).datacenterId), ['r3-dc']);
  });

  it('with redecideOnRebuild false, decides only the input with nothing stored', async () => {
    const calls = { n: 0 };
    const r = await rebuild(store, spec(false, calls));
    assert.equal(calls.n, 1, 'only r3 was decided');
    assert.equal(r.redecided, 1);
    assert.equal(r.inputs, 3);
    assert.deepEqual(r.state.dcs, ['r1-dc:stored', 'r2-dc:stored', 'r3-dc:decided 1']);
    assert.deepEqual(r.missing.map((m) => (m.payload as { datacenterId: string }).datacenterId), ['r3-dc']);
  });
});
