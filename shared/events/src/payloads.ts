/**
 * Payload codecs of the current version of every event. Older versions live in
 * `upcasters.ts` beside the function that lifts them to these shapes.
 */
import * as t from 'io-ts';
import { closed } from './closed';
import { AllocationId, DatacenterId, DisplayName, HostId, ImageId, IsoTimestamp, MigrationId, NetworkId, NonNegativeInt, PairId, PositiveInt, ProjectId, RegionId, RequestId, ResourceId, RuleId, Sha256Hex, Tag, U32, VmId } from './ids';
import { Base64, Cidr, Ipv4, PublicKey, UnderlayAddress, Vni } from './net';

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

// ---- Policy (external: operators publish rules) ----

/** What a rule side selects: the VMs of a network, one VM, the VMs with a tag, or any VM. */
export const Selector = t.union(
  [
    closed('network selector', { network: NetworkId }),
    closed('vm selector', { vm: VmId }),
    closed('tag selector', { tag: Tag }),
    closed('any selector', { any: t.literal(true) }),
  ],
  'Selector',
);
/** What a rule side selects. */
export type Selector = t.TypeOf<typeof Selector>;

/** Allow or deny. Deny wins over allow; without a rule, VMs of one network may talk, others not. */
export const RuleAction = t.union([t.literal('allow'), t.literal('deny')], 'RuleAction');
/** Allow or deny. */
export type RuleAction = t.TypeOf<typeof RuleAction>;

/**
 * A policy rule exists, or replaces the rule with the same id (stream `policy.<ruleId>`).
 * It applies to traffic from VMs `from` selects to VMs `to` selects, in that direction.
 */
export const PolicyRuleSetPayload = closed(
  'PolicyRuleSet payload',
  { ruleId: RuleId, action: RuleAction, from: Selector, to: Selector },
  { description: t.string },
);
/** Payload of `PolicyRuleSet`. */
export type PolicyRuleSetPayload = t.TypeOf<typeof PolicyRuleSetPayload>;

/** A policy rule is gone (stream `policy.<ruleId>`). */
export const PolicyRuleRemovedPayload = closed('PolicyRuleRemoved payload', { ruleId: RuleId });
/** Payload of `PolicyRuleRemoved`. */
export type PolicyRuleRemovedPayload = t.TypeOf<typeof PolicyRuleRemovedPayload>;

/** A VM's tags are now exactly `tags` (stream `vm.<vmId>`). */
export const VmTaggedPayload = closed('VmTagged payload', { vmId: VmId, tags: t.array(Tag, 'Tags') });
/** Payload of `VmTagged`. */
export type VmTaggedPayload = t.TypeOf<typeof VmTaggedPayload>;

/**
 * An operator asks for a new secret key for VM `vmId` now (stream `vm.<vmId>`): the token
 * issuer makes key id + 1, sealed to the VM's host. Tokens made with the earlier key keep
 * checking until they expire; new tokens use the new key.
 */
export const VmKeyRotationRequestedPayload = closed('VmKeyRotationRequested payload', { vmId: VmId }, { reason: t.string });
/** Payload of `VmKeyRotationRequested`. */
export type VmKeyRotationRequestedPayload = t.TypeOf<typeof VmKeyRotationRequestedPayload>;

// ---- Pairs, keys and tokens (internal) ----
// A pair's events live on `hostpairs.<source host>.<pairId>`: host-scoped (NATS permissions
// can give each host agent its own `hostpairs.<host>.>`), one subject per pair.

/** What every pair event after the request starts with: the pair, its source host, VNI and addresses. */
const PAIR_FIELDS = { pairId: PairId, hostId: HostId, vni: Vni, srcIp: Ipv4, dstIp: Ipv4 };

/** A host agent saw a first packet from local VM `srcVmId` to `dstIp` and asks for the pair. */
export const PairRequestedPayload = closed('PairRequested payload', {
  pairId: PairId,
  hostId: HostId,
  vni: Vni,
  srcVmId: VmId,
  srcIp: Ipv4,
  dstIp: Ipv4,
});
/** Payload of `PairRequested`. */
export type PairRequestedPayload = t.TypeOf<typeof PairRequestedPayload>;

/** The pair is allowed: by rule `ruleId`, or by the same-network default when it is null. */
export const PairAuthorizedPayload = closed('PairAuthorized payload', {
  pairId: PairId,
  hostId: HostId,
  vni: Vni,
  srcVmId: VmId,
  srcIp: Ipv4,
  dstIp: Ipv4,
  dstVmId: VmId,
  dstHostId: HostId,
  dstUnderlay: UnderlayAddress,
  ruleId: t.union([RuleId, t.null]),
  policyVersion: NonNegativeInt,
});
/** Payload of `PairAuthorized`. */
export type PairAuthorizedPayload = t.TypeOf<typeof PairAuthorizedPayload>;

/** Why a pair was not allowed, or stopped being allowed. */
export const PairDenialReason = t.union(
  [t.literal('policy'), t.literal('unknown-source'), t.literal('unknown-destination'), t.literal('vm-gone')],
  'PairDenialReason',
);
/** Why a pair was not allowed, or stopped being allowed. */
export type PairDenialReason = t.TypeOf<typeof PairDenialReason>;

/** The pair is not allowed: by rule `ruleId` (a deny), or by the default when it is null. */
export const PairDeniedPayload = closed('PairDenied payload', {
  ...PAIR_FIELDS,
  reason: PairDenialReason,
  ruleId: t.union([RuleId, t.null]),
  policyVersion: NonNegativeInt,
  detail: t.string,
});
/** Payload of `PairDenied`. */
export type PairDeniedPayload = t.TypeOf<typeof PairDeniedPayload>;

/** A live pair is no longer allowed (a policy change, a VM gone): the source host removes it. */
export const PairRevokedPayload = closed('PairRevoked payload', {
  ...PAIR_FIELDS,
  reason: PairDenialReason,
  ruleId: t.union([RuleId, t.null]),
  policyVersion: NonNegativeInt,
});
/** Payload of `PairRevoked`. */
export type PairRevokedPayload = t.TypeOf<typeof PairRevokedPayload>;

/** Bytes sealed to a host's X25519 key (`@vnet/tokens`): ephemeral public key, nonce, ciphertext + tag. */
export const SealedBox = closed('SealedBox', { epk: PublicKey, nonce: Base64, box: Base64 });
/** Bytes sealed to a host. */
export type SealedBox = t.TypeOf<typeof SealedBox>;

/**
 * A token for the pair, made by the token issuer with the destination VM's key `keyId`,
 * valid until `expiry` (unix seconds) at `dstUnderlay`. The token itself is sealed to the
 * source host, so the log holds no usable token either.
 */
export const PairTokenIssuedPayload = closed('PairTokenIssued payload', {
  ...PAIR_FIELDS,
  dstHostId: HostId,
  dstUnderlay: UnderlayAddress,
  keyId: U32,
  expiry: U32,
  sealedToken: SealedBox,
});
/** Payload of `PairTokenIssued`. */
export type PairTokenIssuedPayload = t.TypeOf<typeof PairTokenIssuedPayload>;

/**
 * The pair was revoked: tokens the issuer made for it, all expiring at or before `voidUpTo`
 * (unix seconds), no longer count at the destination host `hostId` (stream
 * `hostvoids.<hostId>`, which that host's agent follows). A token made after a new
 * authorisation expires later, so it is not affected.
 */
export const PairTokensVoidedPayload = closed('PairTokensVoided payload', { ...PAIR_FIELDS, voidUpTo: U32 });
/** Payload of `PairTokensVoided`. */
export type PairTokensVoidedPayload = t.TypeOf<typeof PairTokensVoidedPayload>;

/** Why a VM key was issued. */
export const KeyIssueReason = t.union([t.literal('placed'), t.literal('rotated')], 'KeyIssueReason');
/** Why a VM key was issued. */
export type KeyIssueReason = t.TypeOf<typeof KeyIssueReason>;

/**
 * VM `vmId` has secret key `keyId`, sealed to the host that runs it (stream
 * `hostkeys.<hostId>`, which that host's agent follows) and to the token issuer (so the
 * issuer rebuilds its keys from the log). Earlier keys stay valid for tokens already issued.
 */
export const VmKeyIssuedPayload = closed('VmKeyIssued payload', {
  vmId: VmId,
  hostId: HostId,
  keyId: U32,
  reason: KeyIssueReason,
  sealedForHost: SealedBox,
  sealedForIssuer: SealedBox,
});
/** Payload of `VmKeyIssued`. */
export type VmKeyIssuedPayload = t.TypeOf<typeof VmKeyIssuedPayload>;

/** Why a destination host refused a packet's token. */
export const TokenRejectionReason = t.union(
  [
    t.literal('missing'),
    t.literal('forged'),
    t.literal('expired'),
    t.literal('expiry-too-far'),
    t.literal('revoked'),
    t.literal('wrong-host'),
    t.literal('wrong-vni'),
    t.literal('unknown-key'),
  ],
  'TokenRejectionReason',
);
/** Why a token was refused. */
export type TokenRejectionReason = t.TypeOf<typeof TokenRejectionReason>;

/**
 * A destination host dropped packets for a bad token (stream `hostrejects.<hostId>`):
 * sampled, one event per (reason, source, destination) and interval, with how many packets.
 */
export const TokenRejectedPayload = closed('TokenRejected payload', {
  hostId: HostId,
  reason: TokenRejectionReason,
  vni: Vni,
  srcIp: Ipv4,
  dstIp: Ipv4,
  keyId: U32,
  packets: PositiveInt,
});
/** Payload of `TokenRejected`. */
export type TokenRejectedPayload = t.TypeOf<typeof TokenRejectedPayload>;

// ---------------------------------------------------------------------------------------------
// Live migration (stream `migration.<migrationId>`, except `VmMoved` on `vni.<vni>` and the
// target's copy of the key on `hostkeys.<host>`).

/** An operator or an external scheduler asks for VM `vmId` to move to host `toHostId`. */
export const MigrationRequestedPayload = closed('MigrationRequested payload', { migrationId: MigrationId, vmId: VmId, toHostId: HostId }, { reason: t.string });
/** Payload of `MigrationRequested`. */
export type MigrationRequestedPayload = t.TypeOf<typeof MigrationRequestedPayload>;

/** Where a migrating VM is and goes: the fields every step repeats. */
const MIGRATION_FIELDS = {
  migrationId: MigrationId,
  vmId: VmId,
  vni: Vni,
  ip: Ipv4,
  fromHostId: HostId,
  toHostId: HostId,
} as const;

/** The migration service accepted a request: the target exists, is active and has room. */
export const MigrationStartedPayload = closed('MigrationStarted payload', { ...MIGRATION_FIELDS, fromUnderlay: UnderlayAddress, toUnderlay: UnderlayAddress });
/** Payload of `MigrationStarted`. */
export type MigrationStartedPayload = t.TypeOf<typeof MigrationStartedPayload>;

/** The token issuer sealed the VM's current key to the target host too (so the target checks
 * the tokens sources already hold, made for `fromUnderlay`), on `hostkeys.<hostId>`. */
export const VmKeySharedPayload = closed('VmKeyShared payload', {
  migrationId: MigrationId,
  vmId: VmId,
  hostId: HostId,
  keyId: U32,
  vni: Vni,
  ip: Ipv4,
  fromUnderlay: UnderlayAddress,
  sealedForHost: SealedBox,
});
/** Payload of `VmKeyShared`. */
export type VmKeySharedPayload = t.TypeOf<typeof VmKeySharedPayload>;

/** The target host's agent holds the VM's key and is ready to take the VM. */
export const MigrationTargetReadyPayload = closed('MigrationTargetReady payload', { migrationId: MigrationId, vmId: VmId, hostId: HostId, keyId: U32 });
/** Payload of `MigrationTargetReady`. */
export type MigrationTargetReadyPayload = t.TypeOf<typeof MigrationTargetReadyPayload>;

/** The migration service orders the switch (to the mapping service); the source forwards for `graceMs` after it. */
export const MigrationSwitchingPayload = closed('MigrationSwitching payload', { ...MIGRATION_FIELDS, graceMs: PositiveInt });
/** Payload of `MigrationSwitching`. */
export type MigrationSwitchingPayload = t.TypeOf<typeof MigrationSwitchingPayload>;

/**
 * The switch: virtual IP `ip` in `vni` is now VM `vmId` on `toHostId` at `toUnderlay` (the
 * mapping service, on `vni.<vni>`). For `graceMs` the source host forwards what still reaches
 * it to the target, and the target accepts tokens made for the source's address.
 */
export const VmMovedPayload = closed('VmMoved payload', {
  ...MIGRATION_FIELDS,
  fromUnderlay: UnderlayAddress,
  toUnderlay: UnderlayAddress,
  graceMs: PositiveInt,
});
/** Payload of `VmMoved`. */
export type VmMovedPayload = t.TypeOf<typeof VmMovedPayload>;

/** The target delivered the first packet to the VM after the switch (the end of the blackout). */
export const MigrationTrafficArrivedPayload = closed(
  'MigrationTrafficArrived payload',
  { migrationId: MigrationId, vmId: VmId, hostId: HostId, firstPacketAt: IsoTimestamp },
  /** Packets for the VM the target dropped before the first was delivered (its hold full, a token refused). */
  { dropped: NonNegativeInt },
);
/** Payload of `MigrationTrafficArrived`. */
export type MigrationTrafficArrivedPayload = t.TypeOf<typeof MigrationTrafficArrivedPayload>;

/** The source stopped forwarding for the VM at the end of the grace period: what it forwarded. */
export const MigrationForwardingEndedPayload = closed(
  'MigrationForwardingEnded payload',
  {
    migrationId: MigrationId,
    vmId: VmId,
    hostId: HostId,
    forwarded: NonNegativeInt,
  },
  /** Frames for the VM the source dropped after its port closed there (not forwarded). */
  { dropped: NonNegativeInt },
);
/** Payload of `MigrationForwardingEnded`. */
export type MigrationForwardingEndedPayload = t.TypeOf<typeof MigrationForwardingEndedPayload>;

/** When each step happened (null: did not happen, or not reported). */
export const MigrationSteps = closed('MigrationSteps', {
  requestedAt: IsoTimestamp,
  startedAt: IsoTimestamp,
  keySharedAt: t.union([IsoTimestamp, t.null]),
  targetReadyAt: t.union([IsoTimestamp, t.null]),
  switchedAt: t.union([IsoTimestamp, t.null]),
  firstPacketAt: t.union([IsoTimestamp, t.null]),
  forwardingEndedAt: t.union([IsoTimestamp, t.null]),
});
/** Step times of a migration. */
export type MigrationSteps = t.TypeOf<typeof MigrationSteps>;

/** The migration is over: the VM runs on the target; the blackout from the events (switch to
 * first packet delivered at the target; null when no packet came) and what the source forwarded. */
export const MigrationCompletedPayload = closed('MigrationCompleted payload', {
  ...MIGRATION_FIELDS,
  steps: MigrationSteps,
  blackoutMs: t.union([NonNegativeInt, t.null]),
  forwarded: t.union([NonNegativeInt, t.null]),
}, {
  /** Packets for the VM the data plane dropped during the move (source after its port closed,
   * target before the first delivery); absent when a host did not report. */
  packetsLost: NonNegativeInt,
});
/** Payload of `MigrationCompleted`. */
export type MigrationCompletedPayload = t.TypeOf<typeof MigrationCompletedPayload>;

/** Why a migration did not happen or was rolled back. */
export const MigrationFailureReason = t.union(
  [
    t.literal('unknown-vm'),
    t.literal('unknown-host'),
    t.literal('host-drained'),
    t.literal('host-removed'),
    t.literal('same-host'),
    t.literal('out-of-capacity'),
    t.literal('already-migrating'),
    t.literal('target-unresponsive'),
  ],
  'MigrationFailureReason',
);
/** Why a migration failed. */
export type MigrationFailureReason = t.TypeOf<typeof MigrationFailureReason>;

/**
 * The migration failed at `step` with a reason; the VM stays (or is back) on its source host.
 * `rolledBack`: steps had been taken (the key shared with the target) and were undone.
 */
export const MigrationFailedPayload = closed('MigrationFailed payload', {
  migrationId: MigrationId,
  vmId: VmId,
  toHostId: HostId,
  step: t.union([t.literal('requested'), t.literal('started'), t.literal('key-shared')], 'MigrationStep'),
  reason: MigrationFailureReason,
  detail: t.string,
  rolledBack: t.boolean,
});
/** Payload of `MigrationFailed`. */
export type MigrationFailedPayload = t.TypeOf<typeof MigrationFailedPayload>;

/** The migration service's clock: a migration's step took longer than its deadline. */
export const MigrationDeadlinePassedPayload = closed('MigrationDeadlinePassed payload', {
  migrationId: MigrationId,
  step: t.union([t.literal('started'), t.literal('key-shared'), t.literal('switched')], 'MigrationDeadlineStep'),
  afterMs: PositiveInt,
});
/** Payload of `MigrationDeadlinePassed`. */
export type MigrationDeadlinePassedPayload = t.TypeOf<typeof MigrationDeadlinePassedPayload>;

// ---------------------------------------------------------------- resource graph

/** The kinds of node of the resource graph. */
export const ResourceKind = t.union(
  [
    t.literal('region'),
    t.literal('datacenter'),
    t.literal('host'),
    t.literal('project'),
    t.literal('network'),
    t.literal('subnet'),
    t.literal('vm'),
    t.literal('nic'),
    t.literal('ip'),
    t.literal('image'),
  ],
  'ResourceKind',
);
/** A kind of resource-graph node. */
export type ResourceKind = t.TypeOf<typeof ResourceKind>;

/** A node of the resource graph: its kind and its id within that kind. */
export const NodeRef = closed('NodeRef', { kind: ResourceKind, id: ResourceId });
/** A node of the resource graph. */
export type NodeRef = t.TypeOf<typeof NodeRef>;

/** What a node hands out: addresses of a subnet, CPUs and memory of a host, a project's instance quota. */
export const ResourceName = t.union([t.literal('ips'), t.literal('cpus'), t.literal('memoryMiB'), t.literal('instances')], 'ResourceName');
/** What a node hands out. */
export type ResourceName = t.TypeOf<typeof ResourceName>;

/** What a node has to hand out (each absent: it has none of that). `ips`: the usable addresses of the CIDR (network, broadcast and the first address, the gateway, excluded). */
export const ResourceCapacity = closed('ResourceCapacity', {}, { ips: Cidr, cpus: PositiveInt, memoryMiB: PositiveInt, instances: PositiveInt });
/** What a node has to hand out. */
export type ResourceCapacity = t.TypeOf<typeof ResourceCapacity>;

/** A node joins the graph, with what it has to hand out (adding it again changes nothing). */
export const ResourceNodeAddedPayload = closed('ResourceNodeAdded payload', { node: NodeRef, capacity: ResourceCapacity });
/** Payload of `ResourceNodeAdded`. */
export type ResourceNodeAddedPayload = t.TypeOf<typeof ResourceNodeAddedPayload>;

/** How two nodes are linked: `from` owns `to` (deleting `from` deletes `to`), or `from` uses `to` (it may ask it for resources). */
export const ResourceRelation = t.union([t.literal('owns'), t.literal('uses')], 'ResourceRelation');
/** How two nodes are linked. */
export type ResourceRelation = t.TypeOf<typeof ResourceRelation>;

/** A link between two nodes (on the `from` node's subject). */
export const ResourceLinkedPayload = closed('ResourceLinked payload', { from: NodeRef, to: NodeRef, relation: ResourceRelation });
/** Payload of `ResourceLinked`. */
export type ResourceLinkedPayload = t.TypeOf<typeof ResourceLinkedPayload>;

/** Asks for a node to be deleted, with everything it owns; what it holds and what it handed out are released. */
export const ResourceDeletionRequestedPayload = closed('ResourceDeletionRequested payload', { node: NodeRef }, { reason: t.string });
/** Payload of `ResourceDeletionRequested`. */
export type ResourceDeletionRequestedPayload = t.TypeOf<typeof ResourceDeletionRequestedPayload>;

/** A node left the graph; `owner`: it went because that node (its owner, at some depth) was deleted. */
export const ResourceNodeDeletedPayload = closed('ResourceNodeDeleted payload', { node: NodeRef }, { owner: NodeRef });
/** Payload of `ResourceNodeDeleted`. */
export type ResourceNodeDeletedPayload = t.TypeOf<typeof ResourceNodeDeletedPayload>;

/** A message along a link: `holder` asks `provider` for `amount` of `resource` (`ip`: that address, for `ips`). */
export const AllocationRequestedPayload = closed(
  'AllocationRequested payload',
  {
    allocationId: AllocationId,
    provider: NodeRef,
    holder: NodeRef,
    resource: ResourceName,
    amount: PositiveInt,
  },
  { ip: Ipv4 },
);
/** Payload of `AllocationRequested`. */
export type AllocationRequestedPayload = t.TypeOf<typeof AllocationRequestedPayload>;

/** A message along a link: give back an allocation. */
export const ReleaseRequestedPayload = closed('ReleaseRequested payload', { allocationId: AllocationId, provider: NodeRef });
/** Payload of `ReleaseRequested`. */
export type ReleaseRequestedPayload = t.TypeOf<typeof ReleaseRequestedPayload>;

const ALLOCATION_FIELDS = { allocationId: AllocationId, provider: NodeRef, holder: NodeRef, resource: ResourceName, amount: PositiveInt };

/** The provider handed it out (on the provider's subject); `ip`: the address, for `ips` (amount 1). */
export const ResourceAllocatedPayload = closed('ResourceAllocated payload', ALLOCATION_FIELDS, { ip: Ipv4 });
/** Payload of `ResourceAllocated`. */
export type ResourceAllocatedPayload = t.TypeOf<typeof ResourceAllocatedPayload>;

/** Why an allocation was given back. */
export const ReleaseReason = t.union([t.literal('requested'), t.literal('holder-deleted'), t.literal('provider-deleted')], 'ReleaseReason');
/** Why an allocation was given back. */
export type ReleaseReason = t.TypeOf<typeof ReleaseReason>;

/** The provider has it back (on the provider's subject). */
export const ResourceReleasedPayload = closed('ResourceReleased payload', { ...ALLOCATION_FIELDS, reason: ReleaseReason }, { ip: Ipv4 });
/** Payload of `ResourceReleased`. */
export type ResourceReleasedPayload = t.TypeOf<typeof ResourceReleasedPayload>;

/** Why a provider refused. */
export const AllocationRefusalReason = t.union(
  [t.literal('unknown-node'), t.literal('node-deleted'), t.literal('not-linked'), t.literal('not-provided'), t.literal('exhausted'), t.literal('bad-amount'), t.literal('unavailable')],
  'AllocationRefusalReason',
);
/** Why a provider refused. */
export type AllocationRefusalReason = t.TypeOf<typeof AllocationRefusalReason>;

/** The provider refused (on the provider's subject), saying why (`unavailable`: the address asked for is taken or not handed out by it). */
export const AllocationRefusedPayload = closed('AllocationRefused payload', { ...ALLOCATION_FIELDS, reason: AllocationRefusalReason, detail: t.string }, { ip: Ipv4 });
/** Payload of `AllocationRefused`. */
export type AllocationRefusedPayload = t.TypeOf<typeof AllocationRefusedPayload>;

// ---------------------------------------------------------------- images

/** An image's bytes are in a region's object store bucket (`vnet_images_<region>`, object name = image id). */
export const ImageUploadedPayload = closed('ImageUploaded payload', { imageId: ImageId, name: DisplayName, regionId: RegionId, digest: Sha256Hex, size: PositiveInt });
/** Payload of `ImageUploaded`. */
export type ImageUploadedPayload = t.TypeOf<typeof ImageUploadedPayload>;

/** Asks for an image to be in a region (copied there from a region that has it, unless it is there or on its way). */
export const ImageReplicationRequestedPayload = closed('ImageReplicationRequested payload', { imageId: ImageId, regionId: RegionId }, { reason: t.string });
/** Payload of `ImageReplicationRequested`. */
export type ImageReplicationRequestedPayload = t.TypeOf<typeof ImageReplicationRequestedPayload>;

/** A copy began (`attempt` counts from 1; a copy interrupted is begun again with the next attempt). */
export const ImageReplicationStartedPayload = closed('ImageReplicationStarted payload', {
  imageId: ImageId,
  fromRegionId: RegionId,
  toRegionId: RegionId,
  size: PositiveInt,
  attempt: PositiveInt,
});
/** Payload of `ImageReplicationStarted`. */
export type ImageReplicationStartedPayload = t.TypeOf<typeof ImageReplicationStartedPayload>;

/** How far a copy is. */
export const ImageReplicationProgressPayload = closed('ImageReplicationProgress payload', {
  imageId: ImageId,
  toRegionId: RegionId,
  attempt: PositiveInt,
  copied: NonNegativeInt,
  size: PositiveInt,
});
/** Payload of `ImageReplicationProgress`. */
export type ImageReplicationProgressPayload = t.TypeOf<typeof ImageReplicationProgressPayload>;

/** The image is in the region, its digest checked: VMs may start from it there. */
export const ImageReplicatedPayload = closed('ImageReplicated payload', {
  imageId: ImageId,
  fromRegionId: RegionId,
  regionId: RegionId,
  digest: Sha256Hex,
  size: PositiveInt,
  attempt: PositiveInt,
  tookMs: NonNegativeInt,
});
/** Payload of `ImageReplicated`. */
export type ImageReplicatedPayload = t.TypeOf<typeof ImageReplicatedPayload>;

/** Why a copy failed. */
export const ImageReplicationFailureReason = t.union(
  [t.literal('unknown-image'), t.literal('no-source'), t.literal('digest-mismatch'), t.literal('copy-error'), t.literal('too-many-attempts')],
  'ImageReplicationFailureReason',
);
/** Why a copy failed. */
export type ImageReplicationFailureReason = t.TypeOf<typeof ImageReplicationFailureReason>;

/** A copy failed; the region does not have the image (nothing half-copied is marked ready). */
export const ImageReplicationFailedPayload = closed('ImageReplicationFailed payload', {
  imageId: ImageId,
  toRegionId: RegionId,
  attempt: NonNegativeInt,
  reason: ImageReplicationFailureReason,
  detail: t.string,
});
/** Payload of `ImageReplicationFailed`. */
export type ImageReplicationFailedPayload = t.TypeOf<typeof ImageReplicationFailedPayload>;

// ---------------------------------------------------------------- instances

/** What one VM of a request gets from its host. */
export const InstanceSize = closed('InstanceSize', { cpus: PositiveInt, memoryMiB: PositiveInt });
/** What one VM gets from its host. */
export type InstanceSize = t.TypeOf<typeof InstanceSize>;

/** At most this many VMs per request. */
export const MAX_INSTANCES_PER_REQUEST = 500;
const InstanceCount = t.refinement(PositiveInt, (n) => n <= MAX_INSTANCES_PER_REQUEST, 'InstanceCount');

/** Start `count` VMs of `size` from `imageId` in a network of a project, in a region (through the resource graph). */
export const InstancesRequestedPayload = closed('InstancesRequested payload', {
  requestId: RequestId,
  projectId: ProjectId,
  networkId: NetworkId,
  imageId: ImageId,
  regionId: RegionId,
  count: InstanceCount,
  size: InstanceSize,
});
/** Payload of `InstancesRequested`. */
export type InstancesRequestedPayload = t.TypeOf<typeof InstancesRequestedPayload>;

/** One VM started for a request. */
export const InstanceVm = closed('InstanceVm', { vmId: VmId, hostId: HostId, ip: Ipv4 });
/** One VM started for a request. */
export type InstanceVm = t.TypeOf<typeof InstanceVm>;

/** The request is met: its VMs are placed (quota, host capacity and addresses allocated in the graph). */
export const InstancesCreatedPayload = closed('InstancesCreated payload', { requestId: RequestId, regionId: RegionId, imageId: ImageId, vms: t.array(InstanceVm) });
/** Payload of `InstancesCreated`. */
export type InstancesCreatedPayload = t.TypeOf<typeof InstancesCreatedPayload>;

/** Why a request for instances was not met. */
export const InstancesFailureReason = t.union(
  [
    t.literal('unknown-project'),
    t.literal('unknown-network'),
    t.literal('unknown-region'),
    t.literal('image-unavailable'),
    t.literal('quota-exceeded'),
    t.literal('no-capacity'),
    t.literal('no-addresses'),
    t.literal('error'),
  ],
  'InstancesFailureReason',
);
/** Why a request for instances was not met. */
export type InstancesFailureReason = t.TypeOf<typeof InstancesFailureReason>;

/** The request was not met; everything allocated for it was released (`released` allocations). */
export const InstancesRequestFailedPayload = closed('InstancesRequestFailed payload', {
  requestId: RequestId,
  reason: InstancesFailureReason,
  detail: t.string,
  released: NonNegativeInt,
});
/** Payload of `InstancesRequestFailed`. */
export type InstancesRequestFailedPayload = t.TypeOf<typeof InstancesRequestFailedPayload>;

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
  PolicyRuleSet: PolicyRuleSetPayload,
  PolicyRuleRemoved: PolicyRuleRemovedPayload,
  VmTagged: VmTaggedPayload,
  VmKeyRotationRequested: VmKeyRotationRequestedPayload,
  PairRequested: PairRequestedPayload,
  PairAuthorized: PairAuthorizedPayload,
  PairDenied: PairDeniedPayload,
  PairRevoked: PairRevokedPayload,
  PairTokenIssued: PairTokenIssuedPayload,
  PairTokensVoided: PairTokensVoidedPayload,
  VmKeyIssued: VmKeyIssuedPayload,
  TokenRejected: TokenRejectedPayload,
  MigrationRequested: MigrationRequestedPayload,
  MigrationStarted: MigrationStartedPayload,
  VmKeyShared: VmKeySharedPayload,
  MigrationTargetReady: MigrationTargetReadyPayload,
  MigrationSwitching: MigrationSwitchingPayload,
  VmMoved: VmMovedPayload,
  MigrationTrafficArrived: MigrationTrafficArrivedPayload,
  MigrationForwardingEnded: MigrationForwardingEndedPayload,
  MigrationCompleted: MigrationCompletedPayload,
  MigrationFailed: MigrationFailedPayload,
  MigrationDeadlinePassed: MigrationDeadlinePassedPayload,
  ResourceNodeAdded: ResourceNodeAddedPayload,
  ResourceLinked: ResourceLinkedPayload,
  ResourceDeletionRequested: ResourceDeletionRequestedPayload,
  ResourceNodeDeleted: ResourceNodeDeletedPayload,
  AllocationRequested: AllocationRequestedPayload,
  ReleaseRequested: ReleaseRequestedPayload,
  ResourceAllocated: ResourceAllocatedPayload,
  ResourceReleased: ResourceReleasedPayload,
  AllocationRefused: AllocationRefusedPayload,
  ImageUploaded: ImageUploadedPayload,
  ImageReplicationRequested: ImageReplicationRequestedPayload,
  ImageReplicationStarted: ImageReplicationStartedPayload,
  ImageReplicationProgress: ImageReplicationProgressPayload,
  ImageReplicated: ImageReplicatedPayload,
  ImageReplicationFailed: ImageReplicationFailedPayload,
  InstancesRequested: InstancesRequestedPayload,
  InstancesCreated: InstancesCreatedPayload,
  InstancesRequestFailed: InstancesRequestFailedPayload,
} as const;
