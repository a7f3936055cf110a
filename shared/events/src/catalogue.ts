/**
 * The catalogue: every event type, its current schema version, and its envelope codec.
 *
 * Wire format history (add a dated line for every new event or version):
 * - 2026-11-25  v1 of RegionDeclared, DatacenterDeclared, HostDrained, HostRemoved,
 *               NetworkCreated, VmPlaced, VmDeleted.
 * - 2026-11-25  HostRegistered v2: `address` ("ip:port") renamed `underlay` (a DNS name is now
 *               allowed as host) and optional `capacity` added. v1 is upcast on read.
 * - 2026-11-26  v1 of VmPlacementRejected, VmMappingAdded, VmMappingRemoved, HostVmAttached,
 *               HostVmDetached (internal: written by the mapping service only).
 */
import * as t from 'io-ts';
import { envelopeCodec, type EnvelopeC } from './envelope';
import { PAYLOAD_CODECS } from './payloads';

type Types = keyof typeof PAYLOAD_CODECS;

/** The schema version a writer produces today, per event type. Readers accept 1..current. */
export const CURRENT_VERSIONS = {
  RegionDeclared: 1,
  DatacenterDeclared: 1,
  HostRegistered: 2,
  HostDrained: 1,
  HostRemoved: 1,
  NetworkCreated: 1,
  VmPlaced: 1,
  VmDeleted: 1,
  VmPlacementRejected: 1,
  VmMappingAdded: 1,
  VmMappingRemoved: 1,
  HostVmAttached: 1,
  HostVmDetached: 1,
  PolicyRuleSet: 1,
  PolicyRuleRemoved: 1,
  VmTagged: 1,
  VmKeyRotationRequested: 1,
  PairRequested: 1,
  PairAuthorized: 1,
  PairDenied: 1,
  PairRevoked: 1,
  PairTokenIssued: 1,
  PairTokensVoided: 1,
  VmKeyIssued: 1,
  TokenRejected: 1,
  MigrationRequested: 1,
  MigrationStarted: 1,
  VmKeyShared: 1,
  MigrationTargetReady: 1,
  MigrationSwitching: 1,
  VmMoved: 1,
  MigrationTrafficArrived: 1,
  MigrationForwardingEnded: 1,
  MigrationCompleted: 1,
  MigrationFailed: 1,
  MigrationDeadlinePassed: 1,
  ResourceNodeAdded: 1,
  ResourceLinked: 1,
  ResourceDeletionRequested: 1,
  ResourceNodeDeleted: 1,
  AllocationRequested: 1,
  ReleaseRequested: 1,
  ResourceAllocated: 1,
  ResourceReleased: 1,
  AllocationRefused: 1,
  ImageUploaded: 1,
  ImageReplicationRequested: 1,
  ImageReplicationStarted: 1,
  ImageReplicationProgress: 1,
  ImageReplicated: 1,
  ImageReplicationFailed: 1,
  InstancesRequested: 1,
  InstancesCreated: 1,
  InstancesRequestFailed: 1,
} as const satisfies { readonly [K in Types]: number };

/** The envelope codec type of every event type at its current version. */
export type EnvelopeCodecs = {
  readonly [K in Types]: EnvelopeC<K, (typeof CURRENT_VERSIONS)[K], (typeof PAYLOAD_CODECS)[K]>;
};

/** Envelope codec of every event type at its current version (what `decodeEvent` ends with). */
export const ENVELOPE_CODECS: EnvelopeCodecs = {
  RegionDeclared: envelopeCodec('RegionDeclared', CURRENT_VERSIONS.RegionDeclared, PAYLOAD_CODECS.RegionDeclared),
  DatacenterDeclared: envelopeCodec('DatacenterDeclared', CURRENT_VERSIONS.DatacenterDeclared, PAYLOAD_CODECS.DatacenterDeclared),
  HostRegistered: envelopeCodec('HostRegistered', CURRENT_VERSIONS.HostRegistered, PAYLOAD_CODECS.HostRegistered),
  HostDrained: envelopeCodec('HostDrained', CURRENT_VERSIONS.HostDrained, PAYLOAD_CODECS.HostDrained),
  HostRemoved: envelopeCodec('HostRemoved', CURRENT_VERSIONS.HostRemoved, PAYLOAD_CODECS.HostRemoved),
  NetworkCreated: envelopeCodec('NetworkCreated', CURRENT_VERSIONS.NetworkCreated, PAYLOAD_CODECS.NetworkCreated),
  VmPlaced: envelopeCodec('VmPlaced', CURRENT_VERSIONS.VmPlaced, PAYLOAD_CODECS.VmPlaced),
  VmDeleted: envelopeCodec('VmDeleted', CURRENT_VERSIONS.VmDeleted, PAYLOAD_CODECS.VmDeleted),
  VmPlacementRejected: envelopeCodec('VmPlacementRejected', CURRENT_VERSIONS.VmPlacementRejected, PAYLOAD_CODECS.VmPlacementRejected),
  VmMappingAdded: envelopeCodec('VmMappingAdded', CURRENT_VERSIONS.VmMappingAdded, PAYLOAD_CODECS.VmMappingAdded),
  VmMappingRemoved: envelopeCodec('VmMappingRemoved', CURRENT_VERSIONS.VmMappingRemoved, PAYLOAD_CODECS.VmMappingRemoved),
  HostVmAttached: envelopeCodec('HostVmAttached', CURRENT_VERSIONS.HostVmAttached, PAYLOAD_CODECS.HostVmAttached),
  HostVmDetached: envelopeCodec('HostVmDetached', CURRENT_VERSIONS.HostVmDetached, PAYLOAD_CODECS.HostVmDetached),
  PolicyRuleSet: envelopeCodec('PolicyRuleSet', CURRENT_VERSIONS.PolicyRuleSet, PAYLOAD_CODECS.PolicyRuleSet),
  PolicyRuleRemoved: envelopeCodec('PolicyRuleRemoved', CURRENT_VERSIONS.PolicyRuleRemoved, PAYLOAD_CODECS.PolicyRuleRemoved),
  VmTagged: envelopeCodec('VmTagged', CURRENT_VERSIONS.VmTagged, PAYLOAD_CODECS.VmTagged),
  VmKeyRotationRequested: envelopeCodec('VmKeyRotationRequested', CURRENT_VERSIONS.VmKeyRotationRequested, PAYLOAD_CODECS.VmKeyRotationRequested),
  PairRequested: envelopeCodec('PairRequested', CURRENT_VERSIONS.PairRequested, PAYLOAD_CODECS.PairRequested),
  PairAuthorized: envelopeCodec('PairAuthorized', CURRENT_VERSIONS.PairAuthorized, PAYLOAD_CODECS.PairAuthorized),
  PairDenied: envelopeCodec('PairDenied', CURRENT_VERSIONS.PairDenied, PAYLOAD_CODECS.PairDenied),
  PairRevoked: envelopeCodec('PairRevoked', CURRENT_VERSIONS.PairRevoked, PAYLOAD_CODECS.PairRevoked),
  PairTokenIssued: envelopeCodec('PairTokenIssued', CURRENT_VERSIONS.PairTokenIssued, PAYLOAD_CODECS.PairTokenIssued),
  PairTokensVoided: envelopeCodec('PairTokensVoided', CURRENT_VERSIONS.PairTokensVoided, PAYLOAD_CODECS.PairTokensVoided),
  VmKeyIssued: envelopeCodec('VmKeyIssued', CURRENT_VERSIONS.VmKeyIssued, PAYLOAD_CODECS.VmKeyIssued),
  TokenRejected: envelopeCodec('TokenRejected', CURRENT_VERSIONS.TokenRejected, PAYLOAD_CODECS.TokenRejected),
  MigrationRequested: envelopeCodec('MigrationRequested', CURRENT_VERSIONS.MigrationRequested, PAYLOAD_CODECS.MigrationRequested),
  MigrationStarted: envelopeCodec('MigrationStarted', CURRENT_VERSIONS.MigrationStarted, PAYLOAD_CODECS.MigrationStarted),
  VmKeyShared: envelopeCodec('VmKeyShared', CURRENT_VERSIONS.VmKeyShared, PAYLOAD_CODECS.VmKeyShared),
  MigrationTargetReady: envelopeCodec('MigrationTargetReady', CURRENT_VERSIONS.MigrationTargetReady, PAYLOAD_CODECS.MigrationTargetReady),
  MigrationSwitching: envelopeCodec('MigrationSwitching', CURRENT_VERSIONS.MigrationSwitching, PAYLOAD_CODECS.MigrationSwitching),
  VmMoved: envelopeCodec('VmMoved', CURRENT_VERSIONS.VmMoved, PAYLOAD_CODECS.VmMoved),
  MigrationTrafficArrived: envelopeCodec('MigrationTrafficArrived', CURRENT_VERSIONS.MigrationTrafficArrived, PAYLOAD_CODECS.MigrationTrafficArrived),
  MigrationForwardingEnded: envelopeCodec('MigrationForwardingEnded', CURRENT_VERSIONS.MigrationForwardingEnded, PAYLOAD_CODECS.MigrationForwardingEnded),
  MigrationCompleted: envelopeCodec('MigrationCompleted', CURRENT_VERSIONS.MigrationCompleted, PAYLOAD_CODECS.MigrationCompleted),
  MigrationFailed: envelopeCodec('MigrationFailed', CURRENT_VERSIONS.MigrationFailed, PAYLOAD_CODECS.MigrationFailed),
  MigrationDeadlinePassed: envelopeCodec('MigrationDeadlinePassed', CURRENT_VERSIONS.MigrationDeadlinePassed, PAYLOAD_CODECS.MigrationDeadlinePassed),
  ResourceNodeAdded: envelopeCodec('ResourceNodeAdded', CURRENT_VERSIONS.ResourceNodeAdded, PAYLOAD_CODECS.ResourceNodeAdded),
  ResourceLinked: envelopeCodec('ResourceLinked', CURRENT_VERSIONS.ResourceLinked, PAYLOAD_CODECS.ResourceLinked),
  ResourceDeletionRequested: envelopeCodec('ResourceDeletionRequested', CURRENT_VERSIONS.ResourceDeletionRequested, PAYLOAD_CODECS.ResourceDeletionRequested),
  ResourceNodeDeleted: envelopeCodec('ResourceNodeDeleted', CURRENT_VERSIONS.ResourceNodeDeleted, PAYLOAD_CODECS.ResourceNodeDeleted),
  AllocationRequested: envelopeCodec('AllocationRequested', CURRENT_VERSIONS.AllocationRequested, PAYLOAD_CODECS.AllocationRequested),
  ReleaseRequested: envelopeCodec('ReleaseRequested', CURRENT_VERSIONS.ReleaseRequested, PAYLOAD_CODECS.ReleaseRequested),
  ResourceAllocated: envelopeCodec('ResourceAllocated', CURRENT_VERSIONS.ResourceAllocated, PAYLOAD_CODECS.ResourceAllocated),
  ResourceReleased: envelopeCodec('ResourceReleased', CURRENT_VERSIONS.ResourceReleased, PAYLOAD_CODECS.ResourceReleased),
  AllocationRefused: envelopeCodec('AllocationRefused', CURRENT_VERSIONS.AllocationRefused, PAYLOAD_CODECS.AllocationRefused),
  ImageUploaded: envelopeCodec('ImageUploaded', CURRENT_VERSIONS.ImageUploaded, PAYLOAD_CODECS.ImageUploaded),
  ImageReplicationRequested: envelopeCodec('ImageReplicationRequested', CURRENT_VERSIONS.ImageReplicationRequested, PAYLOAD_CODECS.ImageReplicationRequested),
  ImageReplicationStarted: envelopeCodec('ImageReplicationStarted', CURRENT_VERSIONS.ImageReplicationStarted, PAYLOAD_CODECS.ImageReplicationStarted),
  ImageReplicationProgress: envelopeCodec('ImageReplicationProgress', CURRENT_VERSIONS.ImageReplicationProgress, PAYLOAD_CODECS.ImageReplicationProgress),
  ImageReplicated: envelopeCodec('ImageReplicated', CURRENT_VERSIONS.ImageReplicated, PAYLOAD_CODECS.ImageReplicated),
  ImageReplicationFailed: envelopeCodec('ImageReplicationFailed', CURRENT_VERSIONS.ImageReplicationFailed, PAYLOAD_CODECS.ImageReplicationFailed),
  InstancesRequested: envelopeCodec('InstancesRequested', CURRENT_VERSIONS.InstancesRequested, PAYLOAD_CODECS.InstancesRequested),
  InstancesCreated: envelopeCodec('InstancesCreated', CURRENT_VERSIONS.InstancesCreated, PAYLOAD_CODECS.InstancesCreated),
  InstancesRequestFailed: envelopeCodec('InstancesRequestFailed', CURRENT_VERSIONS.InstancesRequestFailed, PAYLOAD_CODECS.InstancesRequestFailed),
};

/** Every domain event, as deciders and projections see it: the current version, decoded. */
export type DomainEvent = { [K in Types]: t.TypeOf<EnvelopeCodecs[K]> }[Types];

/** The name of an event type, e.g. `'VmPlaced'`. */
export type EventType = DomainEvent['type'];

/** The event of type `K`. */
export type EventOf<K extends EventType> = Extract<DomainEvent, { type: K }>;

/** The (current) payload of event type `K`. */
export type PayloadOf<K extends EventType> = EventOf<K>['payload'];

/** Every event type the catalogue knows, in declaration order. */
export const EVENT_TYPES: ReadonlyArray<EventType> = Object.keys(PAYLOAD_CODECS) as EventType[];

/** The event types an external system may publish (and the JSON Schema describes). */
export const EXTERNAL_EVENT_TYPES = [
  'RegionDeclared',
  'DatacenterDeclared',
  'HostRegistered',
  'HostDrained',
  'HostRemoved',
  'NetworkCreated',
  'VmPlaced',
  'VmDeleted',
  'VmTagged',
  'VmKeyRotationRequested',
  'MigrationRequested',
  'PolicyRuleSet',
  'PolicyRuleRemoved',
  'ResourceNodeAdded',
  'ResourceLinked',
  'ResourceDeletionRequested',
  'AllocationRequested',
  'ReleaseRequested',
  'ImageUploaded',
  'ImageReplicationRequested',
  'InstancesRequested',
] as const satisfies ReadonlyArray<EventType>;

/** An event type that an external system may publish. */
export type ExternalEventType = (typeof EXTERNAL_EVENT_TYPES)[number];

/** One sentence per event type: what it means (goes into the JSON Schema for publishers). */
export const EVENT_DESCRIPTIONS: { readonly [K in EventType]: string } = {
  RegionDeclared: 'A region exists. Declaring it again with the same name is a no-op.',
  DatacenterDeclared: 'A datacenter (failure domain) exists inside a region.',
  HostRegistered:
    'A host joined: its region and datacenter, the underlay address where it receives tunnel traffic, and the X25519 public key that per-VM secrets are sealed to.',
  HostDrained: 'A host takes no new VMs; the VMs it runs stay until moved or deleted.',
  HostRemoved: 'A host left for good.',
  NetworkCreated: 'A virtual network of a project exists, with its VNI and IPv4 CIDR.',
  VmPlaced: 'A VM has an address on a network and runs on a host.',
  VmDeleted: 'A VM is gone; its address is free.',
  VmPlacementRejected: 'The mapping service refused a placement, with the reason; the VM has no mapping.',
  VmMappingAdded: 'A virtual IP in a VNI is a VM on a host, reachable at the host underlay address.',
  VmMappingRemoved: 'A virtual IP in a VNI no longer maps to that VM and host.',
  HostVmAttached: 'A host runs a VM, so its agent follows the VM\'s VNI.',
  HostVmDetached: 'A host no longer runs a VM.',
  PolicyRuleSet: 'A policy rule allows or denies traffic from the VMs one selector picks to those another picks (network, VM, tag or any); it replaces the rule with the same id. Deny wins; without a rule only VMs of one network may talk.',
  PolicyRuleRemoved: 'A policy rule is gone.',
  VmTagged: 'A VM carries exactly these tags now (policy rules can select by tag).',
  VmKeyRotationRequested:
    'An operator asks for a new secret key for a VM now; tokens made with the old key keep checking until they expire, new tokens use the new one.',
  PairRequested: 'A host agent asks for a (source VM, destination address) pair after a first packet it had no pair for.',
  PairAuthorized: 'The authorization service allowed a pair, naming the rule (null: same-network default) and the policy version.',
  PairDenied: 'The authorization service refused a pair, with the reason, the rule (null: default) and the policy version.',
  PairRevoked: 'A live pair is no longer allowed (policy change, VM gone); the source host removes it.',
  PairTokenIssued: 'The token issuer made a token for a pair (sealed to the source host), with key id and expiry.',
  PairTokensVoided: "A revoked pair's tokens (those expiring up to a time) no longer count at the destination host.",
  VmKeyIssued: 'A VM has a new secret key, sealed to the host that runs it and to the token issuer.',
  TokenRejected: 'A destination host dropped packets whose token it refused (sampled, with a packet count).',
  MigrationRequested: 'An operator asks for a VM to move to another host and keep its address (a live migration).',
  MigrationStarted: 'The migration service accepted a migration: the target host exists, is active and has room.',
  VmKeyShared: "The token issuer sealed a migrating VM's current key to the target host, so the target checks the tokens sources already hold.",
  MigrationTargetReady: "The target host's agent holds the migrating VM's key and is ready to take the VM.",
  MigrationSwitching: 'The migration service orders the switch of a VM to its target host.',
  VmMoved: 'A VM now runs on another host at the same address; the source forwards to it for a grace period.',
  MigrationTrafficArrived: 'The target host delivered the first packet to a VM after its switch (the end of the blackout).',
  MigrationForwardingEnded: 'The source host stopped forwarding for a moved VM at the end of the grace period.',
  MigrationCompleted: 'A migration is over, with the time of each step, the blackout, what the source forwarded and the packets the data plane lost.',
  MigrationFailed: 'A migration did not happen, or was rolled back, at a step, with the reason; the VM stays on its source host.',
  MigrationDeadlinePassed: "A migration's step took longer than its deadline (the migration service's clock).",
  ResourceNodeAdded: 'A node joined the resource graph, with what it has to hand out (addresses, CPUs, memory, instance quota).',
  ResourceLinked: 'A link in the resource graph: one node owns another (deleting it deletes the other) or uses it (may ask it for resources).',
  ResourceDeletionRequested: 'Asks for a resource-graph node to be deleted with everything it owns.',
  ResourceNodeDeleted: 'A node left the resource graph (itself deleted, or its owner was).',
  AllocationRequested: 'A node asks another, along a link, for some of what it hands out.',
  ReleaseRequested: 'A node gives back an allocation.',
  ResourceAllocated: 'A provider node handed out an allocation (an address, CPUs, memory, quota).',
  ResourceReleased: 'A provider node has an allocation back (given back, or its holder or itself deleted).',
  AllocationRefused: 'A provider node refused an allocation, saying why (exhausted, unknown, not linked...).',
  ImageUploaded: "An image's bytes are in a region's object store (digest and size recorded in the global catalogue).",
  ImageReplicationRequested: 'Asks for an image to be available in a region (copied there unless it is there or on its way).',
  ImageReplicationStarted: 'A copy of an image to a region began (attempt n).',
  ImageReplicationProgress: 'How many bytes of an image copy are done.',
  ImageReplicated: 'An image is in a region, its digest checked: VMs may start from it there.',
  ImageReplicationFailed: 'A copy of an image to a region failed, with the reason; the region does not have it.',
  InstancesRequested: 'Asks for VMs of a size from an image in a network and region: quota, hosts and addresses come from the resource graph.',
  InstancesCreated: 'A request for instances is met: its VMs are placed, with their hosts and addresses.',
  InstancesRequestFailed: 'A request for instances was not met, with the reason; everything allocated for it was released.',
};

/** True when `s` names an event type of the catalogue. */
export function isEventType(s: unknown): s is EventType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(PAYLOAD_CODECS, s);
}
