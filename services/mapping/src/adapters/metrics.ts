/** Prometheus series of the mapping service. */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface MappingMetrics {
  /** Placements this process accepted (a mapping written). */
  readonly accepted: Counter;
  /** Placements this process rejected, by reason. */
  readonly rejected: Counter<'reason'>;
  /** Mappings this process removed, by reason. */
  readonly removed: Counter<'reason'>;
  /** Live mappings (VMs with an address and a host). */
  readonly mappings: Gauge;
  /** Log position the state reflects. */
  readonly position: Gauge;
}

export function mappingMetrics(registry: Registry): MappingMetrics {
  const registers = [registry];
  return {
    accepted: new Counter({ name: 'vnet_mapping_placements_accepted_total', help: 'placements accepted (mapping written)', registers }),
    rejected: new Counter({ name: 'vnet_mapping_placements_rejected_total', help: 'placements rejected, by reason', labelNames: ['reason'], registers }),
    removed: new Counter({ name: 'vnet_mapping_mappings_removed_total', help: 'mappings removed, by reason', labelNames: ['reason'], registers }),
    mappings: new Gauge({ name: 'vnet_mapping_mappings', help: 'live VM mappings', registers }),
    position: new Gauge({ name: 'vnet_mapping_log_position', help: 'log position the state reflects', registers }),
  };
}
