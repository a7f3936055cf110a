/**
 * `vnet status`: hosts, the VMs on each, and the tunnel table size each host agent should
 * have — folded from the log — beside what running agents report (from `vnet up`'s run.json).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import * as E from 'fp-ts/lib/Either.js';
import { domainEventCodec } from '@vnet/events';
import { action, connectStore, natsUrl } from '../connect';

interface HostRow {
  status: 'active' | 'drained' | 'removed';
  region: string;
  underlay: string;
  vms: Map<string, { vni: number; ip: string }>;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('Show hosts, the VMs on each host, tunnel table sizes (from the log, and from running agents) and the pairs each agent has installed.')
    .option('--nats <url>', 'NATS server (default: $NATS_URL, then the one `vnet up` runs, then nats://127.0.0.1:4222)')
    .option('--data-dir <dir>', 'the folder of `vnet up` (for its run.json)', process.env.VNET_HOME ?? '.vnet')
    .action(
      action(async (opts: { nats?: string; dataDir: string }) => {
        const runFile = join(resolve(opts.dataDir), 'run.json');
        const run = existsSync(runFile) ? (JSON.parse(readFileSync(runFile, 'utf8')) as { nats: string; processes: Record<string, string> }) : undefined;
        const store = await connectStore(opts.nats ?? process.env.NATS_URL ?? run?.nats ?? natsUrl(), 'vnet-cli-status');
        const hosts = new Map<string, HostRow>();
        const mappings = new Map<number, Map<string, string>>(); // vni → ip → vm
        let undecodable = 0;
        try {
          for await (const m of store.readRaw({ stream: 'VNET_EVENTS', filter: 'vnet.evt.>' })) {
            const d = domainEventCodec.decode(m.data);
            if (E.isLeft(d)) {
              undecodable++;
              continue;
            }
            const e = d.right;
            if (e.type === 'HostRegistered') hosts.set(e.payload.hostId, { status: 'active', region: e.payload.regionId, underlay: e.payload.underlay, vms: hosts.get(e.payload.hostId)?.vms ?? new Map() });
            else if (e.type === 'HostDrained' && hosts.has(e.payload.hostId)) hosts.get(e.payload.hostId)!.status = 'drained';
            else if (e.type === 'HostRemoved' && hosts.has(e.payload.hostId)) hosts.get(e.payload.hostId)!.status = 'removed';
            else if (e.type === 'HostVmAttached') hosts.get(e.payload.hostId)?.vms.set(e.payload.vmId, { vni: e.payload.vni, ip: e.payload.ip });
            else if (e.type === 'HostVmDetached') hosts.get(e.payload.hostId)?.vms.delete(e.payload.vmId);
            else if (e.type === 'VmMappingAdded') (mappings.get(e.payload.vni) ?? mappings.set(e.payload.vni, new Map()).get(e.payload.vni)!).set(e.payload.ip, e.payload.vmId);
            else if (e.type === 'VmMappingRemoved' && mappings.get(e.payload.vni)?.get(e.payload.ip) === e.payload.vmId) mappings.get(e.payload.vni)!.delete(e.payload.ip);
          }
        } finally {
          await store.close();
        }
        const out: string[] = [`${'host'.padEnd(8)} ${'status'.padEnd(8)} ${'region'.padEnd(10)} ${'underlay'.padEnd(20)} ${'vms'.padStart(4)} ${'table (log)'.padStart(12)} ${'table (agent)'.padStart(14)} ${'pairs'.padStart(6)}  vms`];
        for (const [hostId, h] of [...hosts].sort(([a], [b]) => a.localeCompare(b))) {
          const vnis = new Set([...h.vms.values()].map((v) => v.vni));
          const expected = [...vnis].reduce((n, vni) => n + (mappings.get(vni)?.size ?? 0), 0);
          let agent = '-';
          let pairs = '-';
          const url = run?.processes[`host-agent-${hostId}`];
          if (url) {
            try {
              const t = (await (await fetch(`${url}/tables`, { signal: AbortSignal.timeout(1000) })).json()) as { tableSize: number; pairs?: number };
              agent = String(t.tableSize);
              pairs = t.pairs === undefined ? '-' : String(t.pairs);
            } catch {
              agent = 'down';
            }
          }
          const list = [...h.vms].map(([vm, v]) => `${vm}(${v.ip}/${v.vni})`).join(' ');
          out.push(`${hostId.padEnd(8)} ${h.status.padEnd(8)} ${h.region.padEnd(10)} ${h.underlay.padEnd(20)} ${String(h.vms.size).padStart(4)} ${String(expected).padStart(12)} ${agent.padStart(14)} ${pairs.padStart(6)}  ${list}`);
        }
        if (hosts.size === 0) out.push('(no hosts registered yet)');
        if (undecodable > 0) out.push(`\n${undecodable} record(s) in the log could not be decoded (see \`vnet tail\`)`);
        process.stdout.write(`${out.join('\n')}\n`);
      }),
    );
}
