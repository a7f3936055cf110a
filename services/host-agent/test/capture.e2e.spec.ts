/**
 * The wire format as a third party sees it: a live capture on `lo` (tshark) of the underlay
 * traffic between two host agents (real processes), decoded by Wireshark's own Geneve
 * dissector. A packet between two simulated VMs in VNI 4242 must show as Geneve with that
 * VNI carrying the VMs' inner IPv4 packet.
 *
 *   VNI 4242: cap-a 10.42.0.1 @c1 (underlay 127.0.1.51), cap-b 10.42.0.2 @c2 (127.0.1.52)
 *
 * Skipped (with the reason) when tshark is missing or capturing on lo is not permitted.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Endpoint, ipv4Packet } from './support';
import { hasCommand, must, sleep, startPlane, stopChild, type Plane, type PlaneVm } from './plane';

const HOSTS = [
  { hostId: 'c1', addr: '127.0.1.51' },
  { hostId: 'c2', addr: '127.0.1.52' },
];
const VMS: PlaneVm[] = [
  { vmId: 'cap-a', networkId: 'capnet', vni: 4242, ip: '10.42.0.1', hostId: 'c1' },
  { vmId: 'cap-b', networkId: 'capnet', vni: 4242, ip: '10.42.0.2', hostId: 'c2' },
];
const noTshark = process.platform !== 'linux' ? `capturing on lo needs Linux (platform is ${process.platform})` : hasCommand('tshark') ? undefined : 'tshark is not installed';

let plane: Plane | undefined;
const eps: Endpoint[] = [];
const ports = new Map<string, string>();
let dir: string | undefined;
let tshark: ChildProcess | undefined;

describe('the underlay as Wireshark sees it', { skip: noTshark }, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vnet-capture-'));
    plane = await startPlane('capture-e2e', HOSTS, [{ networkId: 'capnet', vni: 4242, cidr: '10.42.0.0/24' }], VMS);
    for (const v of VMS) {
      const ep = await Endpoint.open();
      eps.push(ep);
      ports.set(v.vmId, await plane.vmPort(v));
      // The first packet teaches the agent where the VM is (dropped: no route to .254, not sent on the underlay).
      ep.send(ipv4Packet(v.ip, '10.42.0.254', 'hello'), ports.get(v.vmId)!);
    }
    await sleep(200);
  });

  after(async () => {
    await stopChild(tshark);
    for (const ep of eps) await ep.close();
    await plane?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a forwarded packet is Geneve with VNI 4242 carrying the VMs’ IPv4 packet', async (t) => {
    const file = join(dir!, 'underlay.pcapng');
    // Only the underlay source host: VM ports are on 127.0.0.1, other tests use other 127.0.1.x.
    tshark = spawn('tshark', ['-i', 'lo', '-f', 'udp and src host 127.0.1.51', '-c', '1', '-a', 'duration:15', '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const exited = new Promise<number | null>((r) => tshark!.once('exit', (code) => r(code)));
    const started = new Promise<boolean>((resolve) => {
      tshark!.stderr!.on('data', (d) => {
        err += String(d);
        // tshark 4 says "Capture started" once dumpcap captures; older ones only "Capturing on"
        // (printed before permissions are checked): then still running 1.5 s later counts.
        if (/Capture started/.test(err)) resolve(true);
        else if (/Capturing on/.test(err)) setTimeout(() => resolve(tshark!.exitCode === null && !/permission/i.test(err)), 1500).unref();
      });
      void exited.then(() => resolve(false));
      setTimeout(() => resolve(false), 10_000).unref();
    });
    if (!(await started)) {
      await stopChild(tshark);
      if (/permission|not permitted/i.test(err)) return t.skip(`capture on lo is not permitted: ${/^tshark: .*$/m.exec(err)?.[0] ?? err.trim().split('\n')[0]}`);
      assert.fail(`tshark did not start capturing within 10 s: ${err.trim()}`);
    }
    await sleep(300); // dumpcap reports before the first packet can be missed; a little slack anyway
    // Forward a → b until tshark has its one packet (bounded; normally the first one).
    const [a, b] = eps as [Endpoint, Endpoint];
    let got: Buffer | undefined;
    for (let i = 0; i < 20 && tshark.exitCode === null; i++) {
      a.send(ipv4Packet('10.42.0.1', '10.42.0.2', `captured ${i}`), ports.get('cap-a')!);
      got ??= await b.recv().catch(() => undefined);
      await Promise.race([exited, sleep(250)]);
    }
    assert.ok(got, 'cap-b received nothing from cap-a');
    assert.match(got.subarray(20).toString(), /^captured \d+$/);
    assert.equal(await Promise.race([exited, new Promise((r) => setTimeout(r, 5000, 'timeout').unref())]), 0, `tshark did not finish after one packet: ${err.trim()}`);

    const decodeAs = HOSTS.flatMap((h) => ['-d', `udp.port==${plane!.underlay.get(h.hostId)!.split(':')[1]},geneve`]);
    const { stdout } = await must('tshark', ['-r', file, '-V', ...decodeAs], 15_000);
    const [outer, inner] = stdout.split(/^Generic Network Virtualization Encapsulation/m);
    assert.ok(inner !== undefined, `no Geneve in the capture:\n${stdout}`);
    // Outer: the two hosts' underlay addresses and ports.
    const [srcPort, dstPort] = HOSTS.map((h) => plane!.underlay.get(h.hostId)!.split(':')[1]);
    assert.match(outer!, /Source Address: 127\.0\.1\.51\b/);
    assert.match(outer!, /Destination Address: 127\.0\.1\.52\b/);
    assert.match(outer!, new RegExp(`Source Port: ${srcPort}\\b`));
    assert.match(outer!, new RegExp(`Destination Port: ${dstPort}\\b`));
    // Geneve: the VNI, and IPv4 as the protocol it carries.
    assert.match(inner, /Virtual Network Identifier \(VNI\): 0x001092 \(4242\)/);
    // The vnet token option (class 0xfff6, type 0x81, critical): key id, expiry, 16-byte token,
    // a real one (tokens are on): key id 1, an expiry in the future, not the zero placeholder.
    const option = /Unknown Option Data: ([0-9a-f]{48})/.exec(inner);
    assert.ok(option, `no token option in the Geneve header:\n${inner}`);
    const data = Buffer.from(option[1]!, 'hex');
    assert.equal(data.readUInt32BE(0), 1, 'key id');
    assert.ok(data.readUInt32BE(4) > Date.now() / 1000, 'expiry in the future');
    assert.notEqual(data.subarray(8).toString('hex'), '0'.repeat(32), 'a real token, not the placeholder');
    assert.match(inner, /Protocol Type: IPv4 \(0x0800\)/);
    // Inner: the simulated VMs' packet.
    assert.match(inner, /Internet Protocol Version 4, Src: 10\.42\.0\.1, Dst: 10\.42\.0\.2/);
    assert.match(inner, /Source Address: 10\.42\.0\.1\b/);
    assert.match(inner, /Destination Address: 10\.42\.0\.2\b/);
    assert.doesNotMatch(stdout, /Malformed Packet/);
  });
});
