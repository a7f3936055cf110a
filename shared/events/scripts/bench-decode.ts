/**
 * Micro-benchmark of the decode edge: 200,000 realistic VmPlaced / HostRegistered events as
 * bytes, decoded by JSON.parse alone (the floor) and by `decodeEventBytes` (the catalogue).
 * Usage: npx tsx shared/events/scripts/bench-decode.ts [count] [rounds]
 * Prints µs/event, the best of `rounds` timed passes after a warm-up pass.
 */
import {
  decodeEventBytes,
  encodeEventBytes,
  mustDecode,
  newEvent,
  type DomainEvent,
} from '../src/index';
import { DatacenterId, HostId, NetworkId, PositiveInt, RegionId, VmId } from '../src/ids';
import { Ipv4, PublicKey, UnderlayAddress, Vni } from '../src/net';

const count = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 5);

const key = (i: number): string => Buffer.from(new Uint8Array(32).map((_, j) => (i * 31 + j * 7) & 255)).toString('base64');

function vmPlaced(i: number, cause?: DomainEvent): DomainEvent {
  const payload = {
    vmId: mustDecode(VmId, `vm-${i}`),
    networkId: mustDecode(NetworkId, `net-${i % 97}`),
    vni: mustDecode(Vni, 1000 + (i % 97)),
    ip: mustDecode(Ipv4, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`),
    hostId: mustDecode(HostId, `host-${i % 251}`),
  };
  const options = cause ? { causationId: cause.id, correlationId: cause.correlationId } : {};
  return newEvent('VmPlaced', payload, options);
}

function hostRegistered(i: number): DomainEvent {
  const h = i % 251;
  const payload = {
    hostId: mustDecode(HostId, `host-${h}`),
    regionId: mustDecode(RegionId, `eu-west`),
    datacenterId: mustDecode(DatacenterId, `eu-west-${1 + (h % 3)}a`),
    underlay: mustDecode(UnderlayAddress, i % 2 ? `192.0.2.${h}:6081` : `host-${h}.dc${h % 3}.example.net:6081`),
    publicKey: mustDecode(PublicKey, key(h)),
    ...(i % 3 ? { capacity: { cpus: mustDecode(PositiveInt, 64), memoryMiB: mustDecode(PositiveInt, 262144) } } : {}),
  };
  return newEvent('HostRegistered', payload);
}

/** Three VmPlaced (two caused by the previous event) to one HostRegistered, as bytes. */
function corpus(n: number): Uint8Array[] {
  const encoder = new TextEncoder();
  const out: Uint8Array[] = [];
  let last: DomainEvent | undefined;
  for (let i = 0; i < n; i++) {
    const ev = i % 4 === 3 ? hostRegistered(i) : vmPlaced(i, i % 4 === 0 ? undefined : last);
    last = ev;
    out.push(encoder.encode(JSON.stringify(ev)));
  }
  return out;
}

function time(label: string, run: () => number): void {
  run(); // warm-up (and JIT)
  let best = Number.POSITIVE_INFINITY;
  let sink = 0;
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    sink += run();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1000 / count);
  }
  console.log(`${label.padEnd(34)} ${best.toFixed(3)} µs/event   (checksum ${sink})`);
}

const bytes = corpus(count);
const texts = bytes.map((b) => new TextDecoder().decode(b));
const events: DomainEvent[] = [];
for (const b of bytes) {
  const r = decodeEventBytes(b);
  if (r._tag === 'Left') throw new Error(`corpus event does not decode: ${JSON.stringify(r.left)}`);
  events.push(r.right);
}
const avgBytes = bytes.reduce((n, b) => n + b.length, 0) / count;
console.log(`${count} events (${avgBytes.toFixed(0)} bytes on average), best of ${rounds} rounds`);

time('JSON.parse (string)', () => {
  let n = 0;
  for (const s of texts) n += (JSON.parse(s) as { schemaVersion: number }).schemaVersion;
  return n;
});
const utf8 = new TextDecoder('utf-8', { fatal: true });
time('TextDecoder + JSON.parse (bytes)', () => {
  let n = 0;
  for (const b of bytes) n += (JSON.parse(utf8.decode(b)) as { schemaVersion: number }).schemaVersion;
  return n;
});
time('decodeEventBytes', () => {
  let n = 0;
  for (const b of bytes) {
    const r = decodeEventBytes(b);
    n += r._tag === 'Right' ? r.right.schemaVersion : 1e9;
  }
  return n;
});
time('encodeEventBytes', () => {
  let n = 0;
  for (const ev of events) n += encodeEventBytes(ev).length;
  return n;
});
