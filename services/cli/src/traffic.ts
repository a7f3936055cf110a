/**
 * Demo traffic for `vnet up`: every demo VM is simulated by a UDP socket attached to its
 * host agent's VM port, sending one raw IPv4 packet a second to the next VM of its network.
 * Loopback only; stopped with `vnet up`.
 */
import dgram, { type Socket } from 'node:dgram';
import { internetChecksum, ipv4FromString } from '@vnet/geneve';

export interface DemoTraffic {
  describe(): string;
  /** Packets sent and received by the simulated VMs so far. */
  stats(): { sent: number; received: number };
  stop(): Promise<void>;
}

interface AgentVm {
  readonly vmId: string;
  readonly vni: number;
  readonly ip: string;
  readonly port: number;
}

/** A UDP-in-IPv4 packet with a correct header checksum. */
function packet(src: string, dst: string, body: string): Buffer {
  const data = Buffer.from(body);
  const p = Buffer.alloc(28 + data.length);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64;
  p[9] = 17;
  p.writeUInt32BE(ipv4FromString(src)!, 12);
  p.writeUInt32BE(ipv4FromString(dst)!, 16);
  p.writeUInt16BE(internetChecksum(p, 0, 20), 10);
  p.writeUInt16BE(40000, 20);
  p.writeUInt16BE(40000, 22);
  p.writeUInt16BE(8 + data.length, 24);
  data.copy(p, 28);
  return p;
}

/** Starts the traffic between the VMs the given host agents (name → base URL) report. */
export async function startDemoTraffic(processes: Readonly<Record<string, string>>): Promise<DemoTraffic> {
  const vms: AgentVm[] = [];
  for (const [name, url] of Object.entries(processes)) {
    if (!name.startsWith('host-agent-')) continue;
    const t = (await (await fetch(`${url}/tables`, { signal: AbortSignal.timeout(2000) })).json()) as { vms: AgentVm[] };
    vms.push(...t.vms);
  }
  let sent = 0;
  let received = 0;
  const sockets: Socket[] = [];
  const senders: Array<() => void> = [];
  for (const vm of vms) {
    const peers = vms.filter((p) => p.vni === vm.vni).sort((a, b) => ipv4FromString(a.ip)! - ipv4FromString(b.ip)!);
    const next = peers[(peers.findIndex((p) => p.vmId === vm.vmId) + 1) % peers.length]!;
    const s = dgram.createSocket('udp4');
    await new Promise<void>((res) => s.bind(0, '127.0.0.1', () => res()));
    s.on('message', () => void received++);
    s.on('error', () => undefined);
    sockets.push(s);
    senders.push(() => {
      s.send(packet(vm.ip, next.ip, `${vm.vmId} -> ${next.vmId}`), vm.port, '127.0.0.1');
      sent++;
    });
  }
  for (const send of senders) send(); // the first packet attaches each VM to its port
  const timer = setInterval(() => senders.forEach((send) => send()), 1000);
  return {
    describe: () => `${vms.length} simulated VMs, each sending 1 packet/s to the next VM of its network`,
    stats: () => ({ sent, received }),
    stop: async () => {
      clearInterval(timer);
      await Promise.all(sockets.map((s) => new Promise<void>((res) => s.close(() => res()))));
    },
  };
}
