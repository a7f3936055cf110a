/**
 * The data plane's live-migration loss accounting, over loopback with three data planes and
 * no event store: what the source drops for a VM after its port closed (before its
 * forwarding starts) and what the target drops before the first delivery are reported with
 * the forwarding end and the arrival. Those figures become `packetsLost` in
 * `MigrationCompleted`.
 *
 *   mv 10.8.0.1 (VNI 1801) moves h1 → h2; snd 10.8.0.3 on h3 sends to it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDataPlane, type DataPlane } from '../src/adapters/dataplane';
import type { Desired } from '../src/domain/desired';
import type { Tunnel } from '../src/domain/table';
import { Endpoint, ipv4Packet } from './support';

const VNI = 1801;
const MV = '10.8.0.1';
const SND = '10.8.0.3';
const mvNum = (10 << 24) | (8 << 16) | 1;

let h1: DataPlane;
let h2: DataPlane;
let h3: DataPlane;
let snd: Endpoint;
let mv: Endpoint;

const desired = (vms: Desired['vms'], where: Record<string, DataPlane>): Desired => {
  const table = new Map<string, Tunnel>();
  for (const [ip, dp] of Object.entries(where)) table.set(ip, { vmId: ip === MV ? 'mv' : 'snd', hostId: dp.hostId, underlay: dp.underlay });
  return { vms, tunnels: new Map([[VNI, table]]) };
};
const portOf = (dp: DataPlane, vmId: string): string => `127.0.0.1:${dp.vmPorts().find((p) => p.vmId === vmId)!.port}`;
const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  h1 = await createDataPlane({ hostId: 'h1', underlay: '127.0.1.81:0' });
  h2 = await createDataPlane({ hostId: 'h2', underlay: '127.0.1.82:0' });
  h3 = await createDataPlane({ hostId: 'h3', underlay: '127.0.1.83:0' });
  snd = await Endpoint.open();
  mv = await Endpoint.open();
  await h1.apply(desired([{ vmId: 'mv', vni: VNI, ip: MV }], { [MV]: h1, [SND]: h3 }));
  await h3.apply(desired([{ vmId: 'snd', vni: VNI, ip: SND }], { [MV]: h1, [SND]: h3 }));
  snd.send(ipv4Packet(SND, '10.8.0.254', 'hello'), portOf(h3, 'snd'));
  mv.send(ipv4Packet(MV, '10.8.0.254', 'hello'), portOf(h1, 'mv'));
  await settle();
});

after(async () => {
  await Promise.all([h1?.close(), h2?.close(), h3?.close(), snd?.close(), mv?.close()]);
});

describe('live migration loss accounting in the data plane', () => {
  it('the source reports the frames it dropped for the VM after its port closed, and forwards the rest', async () => {
    const burst = async (n: number, tag: string) => {
      for (let i = 0; i < n; i++) snd.send(ipv4Packet(SND, MV, `${tag}${i}`), portOf(h3, 'snd'));
      await settle();
    };
    await burst(3, 'before');
    assert.equal(mv.drain(), 3, 'delivered at h1 while it runs there');
    // The VM's port closes at h1 before the switch reaches it: these 5 are lost.
    await h1.apply(desired([], { [MV]: h1, [SND]: h3 }));
    await burst(5, 'gap');
    // The target is ready for it (the arrival report comes with the first delivery).
    const arrived: Array<{ atMs: number; dropped: number }> = [];
    h2.receiveMoved({ vmId: 'mv', vni: VNI, ip: mvNum, fromUnderlay: h1.underlay, untilMs: Date.now() + 5000 }, (atMs, dropped) => arrived.push({ atMs, dropped }));
    const ended = new Promise<{ forwarded: number; dropped: number }>((resolve) =>
      h1.forwardMoved({ vni: VNI, ip: mvNum, toUnderlay: h2.underlay, untilMs: Date.now() + 600 }, (forwarded, dropped) => resolve({ forwarded, dropped })),
    );
    // Forwarded to h2, held there until the VM has its port and attaches.
    await burst(4, 'fwd');
    await h2.apply(desired([{ vmId: 'mv', vni: VNI, ip: MV }], { [MV]: h2, [SND]: h3 }));
    assert.equal(arrived.length, 0, 'nothing delivered before the VM attaches');
    mv.send(ipv4Packet(MV, '10.8.0.254', 'here'), portOf(h2, 'mv'));
    await settle();
    const got = mv.takeAll().map((b) => b.subarray(20).toString());
    assert.deepEqual(got, ['fwd0', 'fwd1', 'fwd2', 'fwd3']);
    const end = await Promise.race([ended, settle(3000).then(() => undefined)]);
    assert.deepEqual(end, { forwarded: 4, dropped: 5 });
    assert.equal(arrived.length, 1);
    assert.equal(arrived[0]!.dropped, 0);
  });

  it('the target reports what it dropped for an arriving VM before the first delivery (its hold full)', async () => {
    // mv moves back h2 → h1; h1's hold takes 256 packets, the rest are dropped and counted.
    await h2.apply(desired([], { [MV]: h1, [SND]: h3 }));
    await h3.apply(desired([{ vmId: 'snd', vni: VNI, ip: SND }], { [MV]: h1, [SND]: h3 }));
    const arrived: number[] = [];
    h1.receiveMoved({ vmId: 'mv', vni: VNI, ip: mvNum, fromUnderlay: h2.underlay, untilMs: Date.now() + 5000 }, (_at, dropped) => arrived.push(dropped));
    for (let i = 0; i < 260; i++) {
      snd.send(ipv4Packet(SND, MV, `held${i}`), portOf(h3, 'snd'));
      if (i % 50 === 49) await settle(20);
    }
    await settle();
    await h1.apply(desired([{ vmId: 'mv', vni: VNI, ip: MV }], { [MV]: h1, [SND]: h3 }));
    mv.send(ipv4Packet(MV, '10.8.0.254', 'back'), portOf(h1, 'mv'));
    await settle(300);
    assert.equal(mv.drain(), 256, 'the hold is delivered');
    assert.deepEqual(arrived, [4]);
  });
});
