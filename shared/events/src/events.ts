/**
 * Building events and reading them: `newEvent` for writers, `streamNameOf` for the event
 * store (one stream per aggregate), `describeEvent` for log tails.
 */
import { CURRENT_VERSIONS, type DomainEvent, type EventOf, type EventType, type PayloadOf } from './catalogue';
import type { CausationId } from './envelope';
import type { EventId, IsoTimestamp } from './ids';
import type { Selector } from './payloads';

/** Optional envelope fields of {@link newEvent}. */
export interface NewEventOptions {
  /** The event that caused this one; default null (caused by a command from outside). */
  readonly causationId?: EventId | null;
  /** The conversation this event belongs to; default the new event's own id. */
  readonly correlationId?: EventId;
  /** When it happened; default now. */
  readonly occurredAt?: IsoTimestamp | Date;
}

/**
 * A new event of the current schema version with a fresh random id. The payload is typed
 * (branded values), so it is not validated again here.
 */
export function newEvent<K extends EventType>(type: K, payload: PayloadOf<K>, options: NewEventOptions = {}): EventOf<K> {
  const id = globalThis.crypto.randomUUID() as EventId;
  const at = options.occurredAt ?? new Date();
  const causationId: CausationId = options.causationId ?? null;
  const event = {
    type,
    schemaVersion: CURRENT_VERSIONS[type],
    id,
    causationId,
    correlationId: options.correlationId ?? id,
    occurredAt: (at instanceof Date ? at.toISOString() : at) as IsoTimestamp,
    payload,
  };
  // The object has exactly the fields of EventOf<K>; TypeScript cannot follow K through the map.
  return event as unknown as EventOf<K>;
}

/** Options that make a new event a consequence of `cause`: its causation and correlation ids. */
export function causedBy(cause: DomainEvent): { causationId: EventId; correlationId: EventId } {
  return { causationId: cause.id, correlationId: cause.correlationId };
}

function assertNever(x: never): never {
  throw new Error(`unhandled event ${JSON.stringify(x)}`);
}

/** A resource-graph node as `kind/id`. */
const ref = (n: { readonly kind: string; readonly id: string }): string => `${n.kind}/${n.id}`;

/**
 * The stream (aggregate) an event belongs to: `region.<id>`, `datacenter.<id>`, `host.<id>`,
 * `network.<id>` or `vm.<id>`; the mapping service's outputs go to `vni.<vni>` (mappings,
 * followed per VNI by host agents), `hostvms.<hostId>` (which VMs a host runs) and `vm.<id>`
 * (rejections); a resource-graph node's events go to `res.<kind>.<id>`, the requests it handles
 * to `resreq.alloc.<allocationId>` and `resreq.del.<kind>.<id>`; an image's to `image.<id>`; a request for instances to `instances.<id>`. The event store publishes it
 * on `vnet.evt.<stream>`.
 */
export function streamNameOf(ev: DomainEvent): string {
  switch (ev.type) {
    case 'RegionDeclared':
      return `region.${ev.payload.regionId}`;
    case 'DatacenterDeclared':
      return `datacenter.${ev.payload.datacenterId}`;
    case 'HostRegistered':
    case 'HostDrained':
    case 'HostRemoved':
      return `host.${ev.payload.hostId}`;
    case 'NetworkCreated':
      return `network.${ev.payload.networkId}`;
    case 'VmPlaced':
    case 'VmDeleted':
    case 'VmPlacementRejected':
      return `vm.${ev.payload.vmId}`;
    case 'VmMappingAdded':
    case 'VmMappingRemoved':
      return `vni.${ev.payload.vni}`;
    case 'HostVmAttached':
    case 'HostVmDetached':
      return `hostvms.${ev.payload.hostId}`;
    case 'PolicyRuleSet':
    case 'PolicyRuleRemoved':
      return `policy.${ev.payload.ruleId}`;
    case 'VmTagged':
    case 'VmKeyRotationRequested':
      return `vm.${ev.payload.vmId}`;
    case 'PairRequested':
    case 'PairAuthorized':
    case 'PairDenied':
    case 'PairRevoked':
    case 'PairTokenIssued':
      return `hostpairs.${ev.payload.hostId}.${ev.payload.pairId}`;
    case 'PairTokensVoided':
      return `hostvoids.${ev.payload.hostId}`;
    case 'VmKeyIssued':
      return `hostkeys.${ev.payload.hostId}`;
    case 'TokenRejected':
      return `hostrejects.${ev.payload.hostId}`;
    case 'VmMoved':
      return `vni.${ev.payload.vni}`;
    case 'VmKeyShared':
      return `hostkeys.${ev.payload.hostId}`;
    case 'MigrationRequested':
    case 'MigrationStarted':
    case 'MigrationTargetReady':
    case 'MigrationSwitching':
    case 'MigrationTrafficArrived':
    case 'MigrationForwardingEnded':
    case 'MigrationCompleted':
    case 'MigrationFailed':
    case 'MigrationDeadlinePassed':
      return `migration.${ev.payload.migrationId}`;
    case 'ResourceNodeAdded':
    case 'ResourceNodeDeleted':
      return `res.${ev.payload.node.kind}.${ev.payload.node.id}`;
    case 'ResourceLinked':
      return `res.${ev.payload.from.kind}.${ev.payload.from.id}`;
    case 'ResourceAllocated':
    case 'ResourceReleased':
    case 'AllocationRefused':
      return `res.${ev.payload.provider.kind}.${ev.payload.provider.id}`;
    case 'ResourceDeletionRequested':
      return `resreq.del.${ev.payload.node.kind}.${ev.payload.node.id}`;
    case 'AllocationRequested':
    case 'ReleaseRequested':
      return `resreq.alloc.${ev.payload.allocationId}`;
    case 'ImageUploaded':
    case 'ImageReplicationRequested':
    case 'ImageReplicationStarted':
    case 'ImageReplicationProgress':
    case 'ImageReplicated':
    case 'ImageReplicationFailed':
      return `image.${ev.payload.imageId}`;
    case 'InstancesRequested':
    case 'InstancesCreated':
    case 'InstancesRequestFailed':
      return `instances.${ev.payload.requestId}`;
    default:
      return assertNever(ev);
  }
}

const q = (s: string): string => JSON.stringify(s);

/** `net:web`, `vm:a1`, `tag:db`, `any`. */
function selectorText(s: Selector): string {
  if ('network' in s) return `net:${s.network}`;
  if ('vm' in s) return `vm:${s.vm}`;
  if ('tag' in s) return `tag:${s.tag}`;
  return 'any';
}

/** One line for a log tail, e.g. `VmPlaced vm=web-1 vni=1001 ip=10.0.0.5 host=h1`. */
export function describeEvent(ev: DomainEvent): string {
  switch (ev.type) {
    case 'RegionDeclared':
      return `RegionDeclared region=${ev.payload.regionId} name=${q(ev.payload.name)}`;
    case 'DatacenterDeclared': {
      const p = ev.payload;
      return `DatacenterDeclared dc=${p.datacenterId} region=${p.regionId} name=${q(p.name)}`;
    }
    case 'HostRegistered': {
      const p = ev.payload;
      const capacity = p.capacity ? ` cpus=${p.capacity.cpus} mem=${p.capacity.memoryMiB}MiB` : '';
      return `HostRegistered host=${p.hostId} region=${p.regionId} dc=${p.datacenterId} underlay=${p.underlay}${capacity}`;
    }
    case 'HostDrained':
      return `HostDrained host=${ev.payload.hostId}${ev.payload.reason === undefined ? '' : ` reason=${q(ev.payload.reason)}`}`;
    case 'HostRemoved':
      return `HostRemoved host=${ev.payload.hostId}`;
    case 'NetworkCreated': {
      const p = ev.payload;
      return `NetworkCreated net=${p.networkId} project=${p.projectId} vni=${p.vni} cidr=${p.cidr}`;
    }
    case 'VmPlaced': {
      const p = ev.payload;
      return `VmPlaced vm=${p.vmId} vni=${p.vni} ip=${p.ip} host=${p.hostId}`;
    }
    case 'VmDeleted':
      return `VmDeleted vm=${ev.payload.vmId}`;
    case 'VmPlacementRejected': {
      const p = ev.payload;
      return `VmPlacementRejected vm=${p.vmId} net=${p.networkId} vni=${p.vni} ip=${p.ip} host=${p.hostId} reason=${p.reason} detail=${q(p.detail)}`;
    }
    case 'VmMappingAdded': {
      const p = ev.payload;
      return `VmMappingAdded vni=${p.vni} ip=${p.ip} vm=${p.vmId} host=${p.hostId} underlay=${p.underlay}`;
    }
    case 'VmMappingRemoved': {
      const p = ev.payload;
      return `VmMappingRemoved vni=${p.vni} ip=${p.ip} vm=${p.vmId} host=${p.hostId} reason=${p.reason}`;
    }
    case 'HostVmAttached':
    case 'HostVmDetached': {
      const p = ev.payload;
      return `${ev.type} host=${p.hostId} vm=${p.vmId} vni=${p.vni} ip=${p.ip}`;
    }
    case 'PolicyRuleSet': {
      const p = ev.payload;
      return `PolicyRuleSet rule=${p.ruleId} ${p.action} from=${selectorText(p.from)} to=${selectorText(p.to)}`;
    }
    case 'PolicyRuleRemoved':
      return `PolicyRuleRemoved rule=${ev.payload.ruleId}`;
    case 'VmTagged':
      return `VmTagged vm=${ev.payload.vmId} tags=${ev.payload.tags.join(',') || '-'}`;
    case 'VmKeyRotationRequested':
      return `VmKeyRotationRequested vm=${ev.payload.vmId}${ev.payload.reason ? ` reason=${q(ev.payload.reason)}` : ''}`;
    case 'PairRequested': {
      const p = ev.payload;
      return `PairRequested pair=${p.pairId} host=${p.hostId} vni=${p.vni} ${p.srcIp}(${p.srcVmId}) -> ${p.dstIp}`;
    }
    case 'PairAuthorized': {
      const p = ev.payload;
      return `PairAuthorized pair=${p.pairId} vni=${p.vni} ${p.srcIp}(${p.srcVmId}) -> ${p.dstIp}(${p.dstVmId}@${p.dstHostId}) rule=${p.ruleId ?? 'default'} policy=v${p.policyVersion}`;
    }
    case 'PairDenied':
    case 'PairRevoked': {
      const p = ev.payload;
      return `${ev.type} pair=${p.pairId} vni=${p.vni} ${p.srcIp} -> ${p.dstIp} reason=${p.reason} rule=${p.ruleId ?? 'default'} policy=v${p.policyVersion}`;
    }
    case 'PairTokenIssued': {
      const p = ev.payload;
      return `PairTokenIssued pair=${p.pairId} vni=${p.vni} ${p.srcIp} -> ${p.dstIp}@${p.dstUnderlay} key=${p.keyId} expires=${new Date(p.expiry * 1000).toISOString()}`;
    }
    case 'PairTokensVoided': {
      const p = ev.payload;
      return `PairTokensVoided pair=${p.pairId} at host=${p.hostId} vni=${p.vni} ${p.srcIp} -> ${p.dstIp} up to ${new Date(p.voidUpTo * 1000).toISOString()}`;
    }
    case 'VmKeyIssued': {
      const p = ev.payload;
      return `VmKeyIssued vm=${p.vmId} host=${p.hostId} key=${p.keyId} reason=${p.reason}`;
    }
    case 'TokenRejected': {
      const p = ev.payload;
      return `TokenRejected host=${p.hostId} reason=${p.reason} vni=${p.vni} ${p.srcIp} -> ${p.dstIp} key=${p.keyId} packets=${p.packets}`;
    }
    case 'MigrationRequested':
      return `MigrationRequested migration=${ev.payload.migrationId} vm=${ev.payload.vmId} to=${ev.payload.toHostId}`;
    case 'MigrationStarted':
    case 'MigrationSwitching':
    case 'VmMoved': {
      const p = ev.payload;
      return `${ev.type} migration=${p.migrationId} vm=${p.vmId} vni=${p.vni} ip=${p.ip} ${p.fromHostId} -> ${p.toHostId}`;
    }
    case 'VmKeyShared':
      return `VmKeyShared migration=${ev.payload.migrationId} vm=${ev.payload.vmId} host=${ev.payload.hostId} key=${ev.payload.keyId}`;
    case 'MigrationTargetReady':
      return `MigrationTargetReady migration=${ev.payload.migrationId} vm=${ev.payload.vmId} host=${ev.payload.hostId} key=${ev.payload.keyId}`;
    case 'MigrationTrafficArrived':
      return `MigrationTrafficArrived migration=${ev.payload.migrationId} vm=${ev.payload.vmId} host=${ev.payload.hostId} at=${ev.payload.firstPacketAt}${ev.payload.dropped === undefined ? '' : ` dropped=${ev.payload.dropped}`}`;
    case 'MigrationForwardingEnded':
      return `MigrationForwardingEnded migration=${ev.payload.migrationId} vm=${ev.payload.vmId} host=${ev.payload.hostId} forwarded=${ev.payload.forwarded}${ev.payload.dropped === undefined ? '' : ` dropped=${ev.payload.dropped}`}`;
    case 'MigrationCompleted': {
      const p = ev.payload;
      return `MigrationCompleted migration=${p.migrationId} vm=${p.vmId} ${p.fromHostId} -> ${p.toHostId} blackout=${p.blackoutMs === null ? 'n/a' : `${p.blackoutMs}ms`} forwarded=${p.forwarded ?? 'n/a'} lost=${p.packetsLost ?? 'n/a'}`;
    }
    case 'MigrationFailed': {
      const p = ev.payload;
      return `MigrationFailed migration=${p.migrationId} vm=${p.vmId} to=${p.toHostId} step=${p.step} reason=${p.reason}${p.rolledBack ? ' rolled-back' : ''} (${p.detail})`;
    }
    case 'MigrationDeadlinePassed':
      return `MigrationDeadlinePassed migration=${ev.payload.migrationId} step=${ev.payload.step} after=${ev.payload.afterMs}ms`;
    case 'ResourceNodeAdded': {
      const c = ev.payload.capacity;
      const has = Object.entries(c).map(([k, v]) => `${k}=${v}`).join(' ');
      return `ResourceNodeAdded ${ref(ev.payload.node)}${has ? ` ${has}` : ''}`;
    }
    case 'ResourceLinked':
      return `ResourceLinked ${ref(ev.payload.from)} ${ev.payload.relation} ${ref(ev.payload.to)}`;
    case 'ResourceDeletionRequested':
      return `ResourceDeletionRequested ${ref(ev.payload.node)}${ev.payload.reason ? ` (${ev.payload.reason})` : ''}`;
    case 'ResourceNodeDeleted':
      return `ResourceNodeDeleted ${ref(ev.payload.node)}${ev.payload.owner ? ` with its owner ${ref(ev.payload.owner)}` : ''}`;
    case 'AllocationRequested':
      return `AllocationRequested ${ev.payload.allocationId}: ${ref(ev.payload.holder)} asks ${ref(ev.payload.provider)} for ${ev.payload.amount} ${ev.payload.resource}`;
    case 'ReleaseRequested':
      return `ReleaseRequested ${ev.payload.allocationId} to ${ref(ev.payload.provider)}`;
    case 'ResourceAllocated':
      return `ResourceAllocated ${ev.payload.allocationId}: ${ref(ev.payload.provider)} gave ${ref(ev.payload.holder)} ${ev.payload.ip ?? `${ev.payload.amount} ${ev.payload.resource}`}`;
    case 'ResourceReleased':
      return `ResourceReleased ${ev.payload.allocationId}: ${ref(ev.payload.provider)} has back ${ev.payload.ip ?? `${ev.payload.amount} ${ev.payload.resource}`} from ${ref(ev.payload.holder)} (${ev.payload.reason})`;
    case 'ImageUploaded':
      return `ImageUploaded ${ev.payload.imageId} "${ev.payload.name}" in ${ev.payload.regionId}: ${ev.payload.size} bytes sha256=${ev.payload.digest.slice(0, 12)}…`;
    case 'ImageReplicationRequested':
      return `ImageReplicationRequested ${ev.payload.imageId} to ${ev.payload.regionId}${ev.payload.reason ? ` (${ev.payload.reason})` : ''}`;
    case 'ImageReplicationStarted':
      return `ImageReplicationStarted ${ev.payload.imageId} ${ev.payload.fromRegionId} -> ${ev.payload.toRegionId} attempt ${ev.payload.attempt} (${ev.payload.size} bytes)`;
    case 'ImageReplicationProgress':
      return `ImageReplicationProgress ${ev.payload.imageId} to ${ev.payload.toRegionId}: ${ev.payload.copied}/${ev.payload.size} bytes`;
    case 'ImageReplicated':
      return `ImageReplicated ${ev.payload.imageId} ${ev.payload.fromRegionId} -> ${ev.payload.regionId}: ${ev.payload.size} bytes in ${ev.payload.tookMs} ms, digest checked`;
    case 'ImageReplicationFailed':
      return `ImageReplicationFailed ${ev.payload.imageId} to ${ev.payload.toRegionId} attempt ${ev.payload.attempt}: ${ev.payload.reason} (${ev.payload.detail})`;
    case 'InstancesRequested': {
      const p = ev.payload;
      return `InstancesRequested ${p.requestId}: ${p.count} x ${p.size.cpus} CPU/${p.size.memoryMiB} MiB of ${p.imageId} in ${p.regionId}, network ${p.networkId} of ${p.projectId}`;
    }
    case 'InstancesCreated':
      return `InstancesCreated ${ev.payload.requestId}: ${ev.payload.vms.length} VMs in ${ev.payload.regionId} (${ev.payload.vms.slice(0, 3).map((v) => `${v.vmId}@${v.hostId}`).join(', ')}${ev.payload.vms.length > 3 ? ', …' : ''})`;
    case 'InstancesRequestFailed':
      return `InstancesRequestFailed ${ev.payload.requestId}: ${ev.payload.reason} (${ev.payload.detail}); ${ev.payload.released} allocations released`;
    case 'AllocationRefused':
      return `AllocationRefused ${ev.payload.allocationId}: ${ref(ev.payload.provider)} refused ${ref(ev.payload.holder)} ${ev.payload.amount} ${ev.payload.resource}: ${ev.payload.reason} (${ev.payload.detail})`;
    default:
      return assertNever(ev);
  }
}
