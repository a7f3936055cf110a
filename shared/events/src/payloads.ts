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
} as const;
