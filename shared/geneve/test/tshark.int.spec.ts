/**
 * Wire compatibility with a real decoder: a vnet frame, wrapped in outer IPv4 + UDP to port
 * 6081, written to a classic pcap file and dissected by tshark. Skipped only when tshark is
 * not installed.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { encodeVnetFrame, ipv4FromString, GENEVE_UDP_PORT, IP_PROTOCOL } from '../src/index';
import { icmpEcho, ipv4Packet, udpInIpv4 } from './packets';

const TSHARK = process.env.TSHARK_BIN ?? 'tshark';
const probe = spawnSync(TSHARK, ['-v'], { encoding: 'utf8', timeout: 10_000 });
const skip = probe.error ? `tshark is not installed (${TSHARK}: ${probe.error.message}); apt-get install -y tshark` : false;
const run = promisify(execFile);

/** Classic libpcap file, one packet, link type 101 (LINKTYPE_RAW: the packet starts at IPv4). */
function pcap(packet: Uint8Array): Uint8Array {
  const out = new Uint8Array(24 + 16 + packet.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0xa1b2c3d4, true); // magic, microsecond timestamps
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, 65535, true); // snaplen
  v.setUint32(20, 101, true); // LINKTYPE_RAW
  v.setUint32(24, 1_795_000_000, true); // ts_sec (2026-11-18)
  v.setUint32(32, packet.length, true); // captured length
  v.setUint32(36, packet.length, true); // original length
  out.set(packet, 40);
  return out;
}

describe('tshark dissects a vnet frame', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vnet-geneve-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const inner = ipv4Packet(ipv4FromString('10.1.0.10')!, ipv4FromString('10.1.0.12')!, IP_PROTOCOL.ICMP, icmpEcho(0x4242, 1, new TextEncoder().encode('vnet-ping')));
  const token = { keyId: 7, expiresAt: 1_795_000_600, token: new Uint8Array(16).fill(0xab) };
  const frame = encodeVnetFrame(1001, token, inner);
  const outer = udpInIpv4(ipv4FromString('127.0.1.1')!, ipv4FromString('127.0.1.2')!, 49152, GENEVE_UDP_PORT, frame);
  const file = join(dir, 'vnet.pcap');
  writeFileSync(file, pcap(outer));
  const tshark = (...args: string[]) =>
    run(TSHARK, ['-r', file, '-o', `geneve.udp.port:${GENEVE_UDP_PORT}`, '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', ...args], {
      timeout: 30_000,
      encoding: 'utf8',
    }).then((r) => r.stdout);

  it('-V shows Geneve with VNI 1001, protocol IPv4, the option, and the inner ICMP echo', async () => {
    const out = await tshark('-V');
    assert.match(out, /Generic Network Virtualization Encapsulation/);
    assert.match(out, /Virtual Network Identifier \(VNI\): 0x0003e9/);
    assert.match(out, /Protocol Type: IPv4 \(0x0800\)/);
    assert.match(out, /Critical Options Present: True/);
    assert.match(out, /Class: Experimental \(0xfff6\)\s+Type: 0x81 \(Critical\)/);
    assert.match(out, /Source Address: 127\.0\.1\.1[\s\S]*Destination Address: 127\.0\.1\.2[\s\S]*Source Address: 10\.1\.0\.10\s[\s\S]*Destination Address: 10\.1\.0\.12\s/);
    assert.match(out, /Internet Control Message Protocol\s+Type: 8 \(Echo \(ping\) request\)/);
    assert.equal(out.match(/Header checksum status: Good/g)?.length, 2, 'outer and inner IPv4 checksums');
    assert.match(out, /\[Checksum Status: Good\]/);
    assert.doesNotMatch(out, /Malformed|Bad|Invalid length/i);
  });

  it('fields: VNI 0x0003e9 (1001), class 0xfff6, type 0x81, outer then inner addresses, ICMP echo request', async () => {
    const out = await tshark('-T', 'fields', '-E', 'separator=|', '-e', 'geneve.vni', '-e', 'geneve.option.class', '-e', 'geneve.option.type', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'icmp.type');
    assert.equal(out.trim(), '0x0003e9|0xfff6|0x81|127.0.1.1,10.1.0.10|127.0.1.2,10.1.0.12|8');
  });
});
