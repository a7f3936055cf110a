/**
 * Payload codecs of the current version of every event. Older versions live in
 * `upcasters.ts` beside the function that lifts them to these shapes.
 */
import * as t from 'io-ts';
import { closed } from './closed';
import { DatacenterId, DisplayName, HostId, NetworkId, PositiveInt, ProjectId, RegionId, VmId } from './ids';
import { Cidr, Ipv4, PublicKey, UnderlayAddress, Vni } from './net';

/** A region exists (idempotent: declaring it again with the same name changes nothing). */
export const RegionDeclaredPayload = closed('RegionDeclared payload', {
  regionId: RegionId,
  name: DisplayName,
});
/** Payload of `RegionDeclared`. */
export type RegionDeclaredPayload = t.TypeOf<typeof RegionDeclaredPayload>;

/** A datacenter exists inside a region. */
export const DatacenterDeclaredPayload = closed('DatacenterDeclared payload', {
  datacenterId: DatacenterId,
  regionId: RegionId,
  name: DisplayName,
});
/** Payload of `DatacenterDeclared`. */
export type DatacenterDeclaredPayload = t.TypeOf<typeof DatacenterDeclaredPayload>;

/** What a host offers to the placer. */
export const HostCapacity = closed('HostCapacity', {
  cpus: PositiveInt,
  memoryMiB: PositiveInt,
});
/** What a host offers to the placer: CPU count and memory in MiB. */
export type HostCapacity = t.TypeOf<typeof HostCapacity>;

/** A host joined: where it lives, where it receives tunnel traffic, the key secrets are sealed to. */
export const HostRegisteredPayload = closed(
  'HostRegistered payload',
  {
    hostId: HostId,
    regionId: RegionId,
    datacenterId: DatacenterId,
    underlay: UnderlayAddress,
    publicKey: PublicKey,
  },
  { capacity: HostCapacity },
);
/** Payload of `HostRegistered` (version 2). */
export type HostRegisteredPayload = t.TypeOf<typeof HostRegisteredPayload>;

/** A host takes no new VMs; the ones it runs stay until moved or deleted. */
export const HostDrainedPayload = closed('HostDrained payload', { hostId: HostId }, { reason: t.string });
/** Payload of `HostDrained`. */
export type HostDrainedPayload = t.TypeOf<typeof HostDrainedPayload>;

/** A host left for good; its slice of the log is no longer served. */
export const HostRemovedPayload = closed('HostRemoved payload', { hostId: HostId });
/** Payload of `HostRemoved`. */
export type HostRemovedPayload = t.TypeOf<typeof HostRemovedPayload>;

/** A virtual network of a project: one VNI on the wire, one IPv4 CIDR for its VMs. */
export const NetworkCreatedPayload = closed('NetworkCreated payload', {
  networkId: NetworkId,
  projectId: ProjectId,
  vni: Vni,
  cidr: Cidr,
});
/** Payload of `NetworkCreated`. */
export type NetworkCreatedPayload = t.TypeOf<typeof NetworkCreatedPayload>;

/**
 * A VM has an address on a network and runs on a host. The VNI is repeated from the network so
 * that a host agent can program its tables from this event alone.
 */
export const VmPlacedPayload = closed('VmPlaced payload', {
  vmId: VmId,
  networkId: NetworkId,
  vni: Vni,
  ip: Ipv4,
  hostId: HostId,
});
/** Payload of `VmPlaced`. */
export type VmPlacedPayload = t.TypeOf<typeof VmPlacedPayload>;

/** A VM is gone; its address is free. */
export const VmDeletedPayload = closed('VmDeleted payload', { vmId: VmId });
/** Payload of `VmDeleted`. */
export type VmDeletedPayload = t.TypeOf<typeof VmDeletedPayload>;

// ---- Internal events of the mapping service (not publishable by external systems) ----

/** Why the mapping service refused a `VmPlaced`. */
export const PlacementRejectionReason = t.union(
  [
    t.literal('unknown-network'),
    t.literal('vni-mismatch'),
    t.literal('ip-outside-cidr'),
    t.literal('unknown-host'),
    t.literal('host-drained'),
    t.literal('host-removed'),
    t.literal('vm-already-placed'),
    t.literal('ip-in-use'),
  ],
  'PlacementRejectionReason',
);
/** Why the mapping service refused a `VmPlaced`. */
export type PlacementRejectionReason = t.TypeOf<typeof PlacementRejectionReason>;

/** Why a VM's mapping went away. */
export const MappingRemovalReason = t.union([t.literal('vm-deleted'), t.literal('host-removed')], 'MappingRemovalReason');
/** Why a VM's mapping went away. */
export type MappingRemovalReason = t.TypeOf<typeof MappingRemovalReason>;

/**
 * The mapping service refused a placement: the VM has no mapping. Stored on the VM's stream
 * (`vm.<vmId>`) right after the `VmPlaced` it answers, so whoever placed it reads why.
 */
export const VmPlacementRejectedPayload = closed('VmPlacementRejected payload', {
  vmId: VmId,
  networkId: NetworkId,
  vni: Vni,
  ip: Ipv4,
  hostId: HostId,
  reason: PlacementRejectionReason,
  detail: t.string,
});
/** Payload of `VmPlacementRejected`. */
export type VmPlacementRejectedPayload = t.TypeOf<typeof VmPlacementRejectedPayload>;

/**
 * Virtual IP `ip` in network `vni` is VM `vmId`, reachable through `hostId` at `underlay`.
 * On the per-VNI stream `vni.<vni>`, so a host agent follows exactly the VNIs it has VMs in.
 */
export const VmMappingAddedPayload = closed('VmMappingAdded payload', {
  vni: Vni,
  ip: Ipv4,
  vmId: VmId,
  hostId: HostId,
  underlay: UnderlayAddress,
});
/** Payload of `VmMappingAdded`. */
export type VmMappingAddedPayload = t.TypeOf<typeof VmMappingAddedPayload>;

/** The mapping of `ip` in `vni` to `vmId` on `hostId` is gone (stream `vni.<vni>`). */
export const VmMappingRemovedPayload = closed('VmMappingRemoved payload', {
  vni: Vni,
  ip: Ipv4,
  vmId: VmId,
  hostId: HostId,
  reason: MappingRemovalReason,
});
/** Payload of `VmMappingRemoved`. */
export type VmMappingRemovedPayload = t.TypeOf<typeof VmMappingRemovedPayload>;

/** Host `hostId` runs VM `vmId` (stream `hostvms.<hostId>`): the agent follows `vni.<vni>`. */
export const HostVmAttachedPayload = closed('HostVmAttached payload', {
  hostId: HostId,
  vmId: VmId,
  vni: Vni,
  ip: Ipv4,
});
/** Payload of `HostVmAttached`. */
export type HostVmAttachedPayload = t.TypeOf<typeof HostVmAttachedPayload>;

/** Host `hostId` no longer runs VM `vmId` (stream `hostvms.<hostId>`). */
export const HostVmDetachedPayload = closed('HostVmDetached payload', {
  hostId: HostId,
  vmId: VmId,
  vni: Vni,
  ip: Ipv4,
});
/** Payload of `HostVmDetached`. */
export type HostVmDetachedPayload = t.TypeOf<typeof HostVmDetachedPayload>;

/** The current payload codec of every event type. Adding an event starts here. */
export const PAYLOAD_CODECS = {
  RegionDeclared: RegionDeclaredPayload,
  DatacenterDeclared: DatacenterDeclaredPayload,
  HostRegistered: HostRegisteredPayload,
  HostDrained: HostDrainedPayload,
  HostRemoved: HostRemovedPayload,
  NetworkCreated: NetworkCreatedPayload,
  VmPlaced: VmPlacedPayload,
  VmDeleted: VmDeletedPayload,
  VmPlacementRejected: VmPlacementRejectedPayload,
  VmMappingAdded: VmMappingAddedPayload,
  VmMappingRemoved: VmMappingRemovedPayload,
  HostVmAttached: HostVmAttachedPayload,
  HostVmDetached: HostVmDetachedPayload,
} as const;
