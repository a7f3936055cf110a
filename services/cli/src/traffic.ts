/**
 * Demo traffic for `vnet up`: every demo VM is simulated by a UDP socket attached to its
 * host agent's VM port, sending 20 raw IPv4 packets a second to the next VM of its network.
 * The simulated VMs follow a live migration like a hypervisor's would: the agents' VM ports
 * are polled every 50 ms, and a VM whose port appears on another agent re-attaches there at
 * once (its next packet goes to the new port, as a resumed VM's RARP would). Loopback only;
 * stopped with `vnet up`.
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

/** Packets per second each simulated VM sends. */
const RATE = 20;
/** How often the agents' VM ports are polled for a VM that moved. */
const FOLLOW_MS = 50;

/** The VM ports the host agents report: agent name → VMs. */
async function agentVms(agents: ReadonlyArray<readonly [string, string]>): Promise<Map<string, AgentVm[]>> {
  const out = new Map<string, AgentVm[]>();
  await Promise.all(
    agents.map(async ([name, url]) => {
      const t = (await (await fetch(`${url}/tables`, { signal: AbortSignal.timeout(2000) })).json()) as { vms: AgentVm[] };
      out.set(name, t.vms);
    }),
  );
  return out;
}

/** Starts the traffic between the VMs the given host agents (name → base URL) report. */
export async function startDemoTraffic(processes: Readonly<Record<string, string>>): Promise<DemoTraffic> {
  const agents = Object.entries(processes).filter(([name]) => name.startsWith('host-agent-'));
  const byAgent = await agentVms(agents);
  const vms = [...byAgent.values()].flat();
  let sent = 0;
  let received = 0;
  const sockets: Socket[] = [];
  /** Per VM: where it is attached (agent and port) and how it sends. */
  const attached = new Map<string, { agent: string; port: number; send: () => void }>();
  for (const [agent, list] of byAgent) {
    for (const vm of list) {
      const peers = vms.filter((p) => p.vni === vm.vni).sort((a, b) => ipv4FromString(a.ip)! - ipv4FromString(b.ip)!);
      const next = peers[(peers.findIndex((p) => p.vmId === vm.vmId) + 1) % peers.length]!;
      const s = dgram.createSocket('udp4');
      await new Promise<void>((res) => s.bind(0, '127.0.0.1', () => res()));
      s.on('message', () => void received++);
      s.on('error', () => undefined);
      sockets.push(s);
      const bytes = packet(vm.ip, next.ip, `${vm.vmId} -> ${next.vmId}`);
      const at = { agent, port: vm.port, send: () => (s.send(bytes, at.port, '127.0.0.1'), sent++) };
      attached.set(vm.vmId, at);
    }
  }
  for (const a of attached.values()) a.send(); // the first packet attaches each VM to its port
  const timer = setInterval(() => attached.forEach((a) => a.send()), 1000 / RATE);
  // A VM that shows up on an agent that did not have it moved there: it re-attaches at once
  // (during the move the source may list it a little longer: that is not news).
  const seen = new Map([...byAgent].map(([agent, list]) => [agent, new Set(list.map((v) => v.vmId))]));
  let polling = false;
  const follow = setInterval(() => {
    if (polling) return;
    polling = true;
    agentVms(agents)
      .then((now) => {
        for (const [agent, list] of now) {
          const before = seen.get(agent);
          for (const vm of list) {
            const a = attached.get(vm.vmId);
            if (!a) continue;
            if (a.agent === agent) {
              // The same agent with a new port: it restarted.
              if (a.port !== vm.port) (a.port = vm.port), a.send();
              continue;
            }
            if (before?.has(vm.vmId)) continue;
            a.agent = agent;
            a.port = vm.port;
            a.send();
          }
          seen.set(agent, new Set(list.map((v) => v.vmId)));
        }
      })
      .catch(() => undefined) // an agent restarting: next poll
      .finally(() => (polling = false));
  }, FOLLOW_MS);
  return {
    describe: () => `${vms.length} simulated VMs, each sending ${RATE} packets/s to the next VM of its network (they follow a migration)`,
    stats: () => ({ sent, received }),
    stop: async () => {
      clearInterval(timer);
      clearInterval(follow);
      await Promise.all(sockets.map((s) => new Promise<void>((res) => s.close(() => res()))));
    },
  };
}
