/** Prometheus view of one host agent: table sizes and data-plane counters, read on scrape. */
import { Counter, Gauge, type Registry } from 'prom-client';
import { servedVnis, tableSize, type HostTables } from '../domain/table';
import type { DataPlane } from './dataplane';
import type { Keyring } from './keyring';
import type { PairFlow } from './pairflow';

export function hostAgentMetrics(
  registry: Registry,
  tables: () => HostTables,
  dp: DataPlane,
  keyring: () => Keyring | undefined = () => undefined,
  pairs: () => ReturnType<PairFlow['stats']> | undefined = () => undefined,
  readersDown: () => number = () => 0,
): void {
  new Gauge({
    name: 'vnet_host_readers_down',
    help: 'live readers (keyring, pair flow) restarting after a failure: keys, tokens and revocations are not arriving meanwhile',
    registers: [registry],
    collect() {
      this.set(readersDown());
    },
  });
  new Counter({
    name: 'vnet_host_pair_packets_released_total',
    help: 'packets held for a pair until its token came, then sent (first packets; after an expired token)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(dp.counters().pairReleased);
    },
  });
  new Gauge({ name: 'vnet_host_pairs', help: 'pairs installed on this host (with a token)', registers: [registry], collect() { this.set(dp.pairCount()); } });
  new Counter({
    name: 'vnet_host_pair_events_total',
    help: 'pair flow: requests published, tokens installed, denials and revocations applied, tokens that did not open, rejection reports written and not written',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      const s = pairs();
      this.reset();
      if (s) for (const [kind, n] of Object.entries(s)) this.inc({ kind }, n);
    },
  });
  new Gauge({ name: 'vnet_host_vm_keys', help: 'VM secret keys this host holds (key ids kept for tokens still valid included)', registers: [registry], collect() { this.set(keyring()?.size() ?? 0); } });
  new Gauge({ name: 'vnet_host_vm_keys_refused', help: 'sealed VM keys that did not open with this host key', registers: [registry], collect() { this.set(keyring()?.refused() ?? 0); } });
  new Gauge({ name: 'vnet_host_tunnel_entries', help: 'tunnel table entries over all served VNIs', registers: [registry], collect() { this.set(tableSize(tables())); } });
  new Gauge({ name: 'vnet_host_served_vnis', help: 'VNIs with at least one local VM', registers: [registry], collect() { this.set(servedVnis(tables()).length); } });
  new Gauge({ name: 'vnet_host_local_vms', help: 'VMs running on this host', registers: [registry], collect() { this.set(tables().local.size); } });
  new Counter({
    name: 'vnet_host_packets_total',
    help: 'packets through the data plane, by direction',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      const c = dp.counters();
      this.reset();
      this.inc({ direction: 'vm_rx' }, c.vmRxPackets);
      this.inc({ direction: 'vm_tx' }, c.vmTxPackets);
      this.inc({ direction: 'underlay_rx' }, c.underlayRxPackets);
      this.inc({ direction: 'underlay_tx' }, c.underlayTxPackets);
    },
  });
  new Counter({
    name: 'vnet_host_drops_total',
    help: 'packets dropped, by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(dp.counters().drops)) this.inc({ reason }, n);
    },
  });
}
