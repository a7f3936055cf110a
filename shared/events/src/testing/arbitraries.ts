/**
 * fast-check arbitraries of valid catalogue values, for property tests here and in other
 * packages (`import { arbitraryDomainEvent } from '@vnet/events/testing'`). Every generated
 * scalar goes through its codec (`mustDecode`), so an arbitrary that drifts from the codec
 * fails loudly instead of testing something else. Not exported from the package root, so
 * production code never loads fast-check.
 */
import fc from 'fast-check';
import * as t from 'io-ts';
import {
  CURRENT_VERSIONS,
  EVENT_TYPES,
  EXTERNAL_EVENT_TYPES,
  type DomainEvent,
  type EventOf,
  type EventType,
  type PayloadOf,
} from '../catalogue';
import {
  AGGREGATE_ID_PATTERN,
  AllocationId,
  ImageId,
  RequestId,
  Sha256Hex,
  ResourceId,
  DatacenterId,
  DisplayName,
  EventId,
  HostId,
  IsoTimestamp,
  NetworkId,
  NonNegativeInt,
  PairId,
  pairIdOf,
  PositiveInt,
  ProjectId,
  RegionId,
  RuleId,
  MigrationId,
  Tag,
  U32,
  VmId,
} from '../ids';
import type { Selector } from '../payloads';
import { mustDecode } from '../make';
import { decodeEvent } from '../decode';
import { formatDecodeFailure } from '../errors';
import { Base64, Cidr, intToIpv4, Ipv4, ipv4ToInt, prefixMask, PublicKey, UnderlayAddress, Vni, VNI_MAX } from '../net';

const via = <C extends t.Mixed>(codec: C, arb: fc.Arbitrary<unknown>): fc.Arbitrary<t.TypeOf<C>> =>
  arb.map((v) => mustDecode(codec, v));

// Plain objects (fast-check's default is a null prototype), so events deep-equal decoded ones.
const plain = { noNullPrototype: true } as const;

const rawId = fc.stringMatching(AGGREGATE_ID_PATTERN);

/** Any lowercase UUID, as an {@link EventId}. */
export const arbitraryEventId = via(EventId, fc.uuid());
/** Any valid region id. */
export const arbitraryRegionId = via(RegionId, rawId);
/** Any valid datacenter id. */
export const arbitraryDatacenterId = via(DatacenterId, rawId);
/** Any valid host id. */
export const arbitraryHostId = via(HostId, rawId);
/** Any valid project id. */
export const arbitraryProjectId = via(ProjectId, rawId);
/** Any valid network id. */
export const arbitraryNetworkId = via(NetworkId, rawId);
/** Any valid VM id. */
export const arbitraryVmId = via(VmId, rawId);

const instant = fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2199-12-31T00:00:00Z'), noInvalidDate: true });

/** RFC 3339 timestamps: `toISOString()` form, without fraction, and with a numeric offset. */
export const arbitraryIsoTimestamp = via(
  IsoTimestamp,
  fc.oneof(
    instant.map((d) => d.toISOString()),
    instant.map((d) => d.toISOString().replace(/\.[0-9]{3}Z$/, 'Z')),
    fc.tuple(instant, fc.integer({ min: -48, max: 56 })).map(([d, quarters]) => {
      const minutes = quarters * 15;
      const local = new Date(d.getTime() + minutes * 60_000).toISOString().slice(0, 19);
      const abs = Math.abs(minutes);
      const pad = (n: number): string => String(n).padStart(2, '0');
      return `${local}${minutes < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
    }),
  ),
);

/** Display names, ASCII and beyond, that {@link DisplayName} accepts. */
export const arbitraryDisplayName = via(
  DisplayName,
  fc
    .oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }))
    .filter((s) => DisplayName.is(s)),
);

/** Any valid VNI (0..16777215). */
export const arbitraryVni = via(Vni, fc.integer({ min: 0, max: VNI_MAX }));
/** Any IPv4 address in canonical form. */
export const arbitraryIpv4 = via(Ipv4, fc.ipV4());
/** Any network: a random address with its host bits cleared, prefix 0..32. */
export const arbitraryCidr = via(
  Cidr,
  fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([ip, p]) => `${intToIpv4(ipv4ToInt(ip) & prefixMask(p))}/${p}`),
);
/** `host:port` with an IPv4 address or a DNS name as host. */
export const arbitraryUnderlayAddress = via(
  UnderlayAddress,
  fc.tuple(fc.oneof(fc.ipV4(), fc.domain()), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}:${p}`),
);
/** Base64 of 32 random bytes. */
export const arbitraryPublicKey = via(
  PublicKey,
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => btoa(String.fromCharCode(...b))),
);
/** Positive integers of a realistic size for capacities. */
export const arbitraryPositiveInt = via(PositiveInt, fc.integer({ min: 1, max: 1 << 22 }));

/** Any valid policy rule id. */
export const arbitraryRuleId = via(RuleId, rawId);
export const arbitraryMigrationId = via(MigrationId, rawId);
/** Any valid VM tag. */
export const arbitraryTag = via(Tag, rawId);
/** Any pair id (VNI, two addresses). */
export const arbitraryPairId = via(
  PairId,
  fc.tuple(fc.integer({ min: 0, max: VNI_MAX }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })).map(([v, a, b]) => pairIdOf(v, a, b)),
);
/** Versions and counters. */
export const arbitraryNonNegativeInt = via(NonNegativeInt, fc.nat({ max: 1 << 30 }));
/** Key ids and expiry times. */
export const arbitraryU32 = via(U32, fc.nat({ max: 0xffffffff }));
/** A selector of each kind. */
export const arbitrarySelector: fc.Arbitrary<Selector> = fc.oneof(
  fc.record({ network: arbitraryNetworkId }, plain),
  fc.record({ vm: arbitraryVmId }, plain),
  fc.record({ tag: arbitraryTag }, plain),
  fc.constant({ any: true as const }),
);
const arbitraryDenialReason = fc.constantFrom('policy', 'unknown-source', 'unknown-destination', 'vm-gone') as fc.Arbitrary<PayloadOf<'PairDenied'>['reason']>;
/** Random bytes in the shape of a sealed box. */
export const arbitrarySealedBox = fc.record(
  {
    epk: arbitraryPublicKey,
    nonce: via(Base64, fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => Buffer.from(b).toString('base64'))),
    box: via(Base64, fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b).toString('base64'))),
  },
  plain,
);

const pairFields = { pairId: arbitraryPairId, hostId: arbitraryHostId, vni: arbitraryVni, srcIp: arbitraryIpv4, dstIp: arbitraryIpv4 };
/** A resource-graph node. */
export const arbitraryNodeRef = fc.record(
  {
    kind: fc.constantFrom('region', 'datacenter', 'host', 'project', 'network', 'subnet', 'vm', 'nic', 'ip', 'image') as fc.Arbitrary<PayloadOf<'ResourceNodeAdded'>['node']['kind']>,
    id: via(ResourceId, rawId),
  },
  plain,
);
const arbitraryAllocationId = via(AllocationId, rawId);
const arbitraryResourceName = fc.constantFrom('ips', 'cpus', 'memoryMiB', 'instances') as fc.Arbitrary<PayloadOf<'AllocationRequested'>['resource']>;
const allocationFields = { allocationId: arbitraryAllocationId, provider: arbitraryNodeRef, holder: arbitraryNodeRef, resource: arbitraryResourceName, amount: arbitraryPositiveInt };
const allocationKeys = ['allocationId', 'provider', 'holder', 'resource', 'amount'] as const;
const arbitraryImageId = via(ImageId, rawId);
const arbitrarySha256 = via(Sha256Hex, fc.stringMatching(/^[0-9a-f]{64}$/));
const arbitraryRequestId = via(RequestId, fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,55}$/));
const migrationFields = { migrationId: arbitraryMigrationId, vmId: arbitraryVmId, vni: arbitraryVni, ip: arbitraryIpv4, fromHostId: arbitraryHostId, toHostId: arbitraryHostId };

/** A valid current-version payload of every event type. */
export const arbitraryPayloads: { readonly [K in EventType]: fc.Arbitrary<PayloadOf<K>> } = {
  RegionDeclared: fc.record({ regionId: arbitraryRegionId, name: arbitraryDisplayName }, plain),
  DatacenterDeclared: fc.record({ datacenterId: arbitraryDatacenterId, regionId: arbitraryRegionId, name: arbitraryDisplayName }, plain),
  HostRegistered: fc.record(
    {
      hostId: arbitraryHostId,
      regionId: arbitraryRegionId,
      datacenterId: arbitraryDatacenterId,
      underlay: arbitraryUnderlayAddress,
      publicKey: arbitraryPublicKey,
      capacity: fc.record({ cpus: arbitraryPositiveInt, memoryMiB: arbitraryPositiveInt }, plain),
    },
    { requiredKeys: ['hostId', 'regionId', 'datacenterId', 'underlay', 'publicKey'], noNullPrototype: true },
  ),
  HostDrained: fc.record({ hostId: arbitraryHostId, reason: fc.string({ maxLength: 60 }) }, { requiredKeys: ['hostId'], noNullPrototype: true }),
  HostRemoved: fc.record({ hostId: arbitraryHostId }, plain),
  NetworkCreated: fc.record({ networkId: arbitraryNetworkId, projectId: arbitraryProjectId, vni: arbitraryVni, cidr: arbitraryCidr }, plain),
  VmPlaced: fc.record({
    vmId: arbitraryVmId,
    networkId: arbitraryNetworkId,
    vni: arbitraryVni,
    ip: arbitraryIpv4,
    hostId: arbitraryHostId,
  }, plain),
  VmDeleted: fc.record({ vmId: arbitraryVmId }, plain),
  VmPlacementRejected: fc.record({
    vmId: arbitraryVmId,
    networkId: arbitraryNetworkId,
    vni: arbitraryVni,
    ip: arbitraryIpv4,
    hostId: arbitraryHostId,
    reason: fc.constantFrom(
      'unknown-network',
      'vni-mismatch',
      'ip-outside-cidr',
      'unknown-host',
      'host-drained',
      'host-removed',
      'vm-already-placed',
      'ip-in-use',
    ) satisfies fc.Arbitrary<PayloadOf<'VmPlacementRejected'>['reason']>,
    detail: fc.string({ maxLength: 80 }),
  }, plain),
  VmMappingAdded: fc.record({
    vni: arbitraryVni,
    ip: arbitraryIpv4,
    vmId: arbitraryVmId,
    hostId: arbitraryHostId,
    underlay: arbitraryUnderlayAddress,
  }, plain),
  VmMappingRemoved: fc.record({
    vni: arbitraryVni,
    ip: arbitraryIpv4,
    vmId: arbitraryVmId,
    hostId: arbitraryHostId,
    reason: fc.constantFrom('vm-deleted', 'host-removed') satisfies fc.Arbitrary<PayloadOf<'VmMappingRemoved'>['reason']>,
  }, plain),
  HostVmAttached: fc.record({ hostId: arbitraryHostId, vmId: arbitraryVmId, vni: arbitraryVni, ip: arbitraryIpv4 }, plain),
  HostVmDetached: fc.record({ hostId: arbitraryHostId, vmId: arbitraryVmId, vni: arbitraryVni, ip: arbitraryIpv4 }, plain),
  PolicyRuleSet: fc.record(
    { ruleId: arbitraryRuleId, action: fc.constantFrom('allow', 'deny') as fc.Arbitrary<'allow' | 'deny'>, from: arbitrarySelector, to: arbitrarySelector, description: fc.string({ maxLength: 60 }) },
    { requiredKeys: ['ruleId', 'action', 'from', 'to'], noNullPrototype: true },
  ),
  PolicyRuleRemoved: fc.record({ ruleId: arbitraryRuleId }, plain),
  VmTagged: fc.record({ vmId: arbitraryVmId, tags: fc.array(arbitraryTag, { maxLength: 5 }) }, plain),
  VmKeyRotationRequested: fc.record({ vmId: arbitraryVmId, reason: fc.string({ maxLength: 60 }) }, { requiredKeys: ['vmId'], noNullPrototype: true }),
  PairRequested: fc.record({ pairId: arbitraryPairId, hostId: arbitraryHostId, vni: arbitraryVni, srcVmId: arbitraryVmId, srcIp: arbitraryIpv4, dstIp: arbitraryIpv4 }, plain),
  PairAuthorized: fc.record({
    pairId: arbitraryPairId,
    hostId: arbitraryHostId,
    vni: arbitraryVni,
    srcVmId: arbitraryVmId,
    srcIp: arbitraryIpv4,
    dstIp: arbitraryIpv4,
    dstVmId: arbitraryVmId,
    dstHostId: arbitraryHostId,
    dstUnderlay: arbitraryUnderlayAddress,
    ruleId: fc.option(arbitraryRuleId, { nil: null }),
    policyVersion: arbitraryNonNegativeInt,
  }, plain),
  PairDenied: fc.record({
    ...pairFields,
    reason: arbitraryDenialReason,
    ruleId: fc.option(arbitraryRuleId, { nil: null }),
    policyVersion: arbitraryNonNegativeInt,
    detail: fc.string({ maxLength: 60 }),
  }, plain),
  PairRevoked: fc.record({
    ...pairFields,
    reason: arbitraryDenialReason,
    ruleId: fc.option(arbitraryRuleId, { nil: null }),
    policyVersion: arbitraryNonNegativeInt,
  }, plain),
  PairTokenIssued: fc.record({
    ...pairFields,
    dstHostId: arbitraryHostId,
    dstUnderlay: arbitraryUnderlayAddress,
    keyId: arbitraryU32,
    expiry: arbitraryU32,
    sealedToken: arbitrarySealedBox,
  }, plain),
  PairTokensVoided: fc.record({ ...pairFields, voidUpTo: arbitraryU32 }, plain),
  VmKeyIssued: fc.record({
    vmId: arbitraryVmId,
    hostId: arbitraryHostId,
    keyId: arbitraryU32,
    reason: fc.constantFrom('placed', 'rotated') as fc.Arbitrary<'placed' | 'rotated'>,
    sealedForHost: arbitrarySealedBox,
    sealedForIssuer: arbitrarySealedBox,
  }, plain),
  TokenRejected: fc.record({
    hostId: arbitraryHostId,
    reason: fc.constantFrom('missing', 'forged', 'expired', 'expiry-too-far', 'revoked', 'wrong-host', 'wrong-vni', 'unknown-key') as fc.Arbitrary<PayloadOf<'TokenRejected'>['reason']>,
    vni: arbitraryVni,
    srcIp: arbitraryIpv4,
    dstIp: arbitraryIpv4,
    keyId: arbitraryU32,
    packets: arbitraryPositiveInt,
  }, plain),
  MigrationRequested: fc.record({ migrationId: arbitraryMigrationId, vmId: arbitraryVmId, toHostId: arbitraryHostId, reason: fc.string({ maxLength: 60 }) }, { requiredKeys: ['migrationId', 'vmId', 'toHostId'], noNullPrototype: true }),
  MigrationStarted: fc.record({ ...migrationFields, fromUnderlay: arbitraryUnderlayAddress, toUnderlay: arbitraryUnderlayAddress }, plain),
  VmKeyShared: fc.record({ migrationId: arbitraryMigrationId, vmId: arbitraryVmId, hostId: arbitraryHostId, keyId: arbitraryU32, vni: arbitraryVni, ip: arbitraryIpv4, fromUnderlay: arbitraryUnderlayAddress, sealedForHost: arbitrarySealedBox }, plain),
  MigrationTargetReady: fc.record({ migrationId: arbitraryMigrationId, vmId: arbitraryVmId, hostId: arbitraryHostId, keyId: arbitraryU32 }, plain),
  MigrationSwitching: fc.record({ ...migrationFields, graceMs: arbitraryPositiveInt }, plain),
  VmMoved: fc.record({ ...migrationFields, fromUnderlay: arbitraryUnderlayAddress, toUnderlay: arbitraryUnderlayAddress, graceMs: arbitraryPositiveInt }, plain),
  MigrationTrafficArrived: fc.record(
    { migrationId: arbitraryMigrationId, vmId: arbitraryVmId, hostId: arbitraryHostId, firstPacketAt: arbitraryIsoTimestamp, dropped: arbitraryNonNegativeInt },
    { requiredKeys: ['migrationId', 'vmId', 'hostId', 'firstPacketAt'], noNullPrototype: true },
  ),
  MigrationForwardingEnded: fc.record(
    { migrationId: arbitraryMigrationId, vmId: arbitraryVmId, hostId: arbitraryHostId, forwarded: arbitraryNonNegativeInt, dropped: arbitraryNonNegativeInt },
    { requiredKeys: ['migrationId', 'vmId', 'hostId', 'forwarded'], noNullPrototype: true },
  ),
  MigrationCompleted: fc.record({
    ...migrationFields,
    steps: fc.record({
      requestedAt: arbitraryIsoTimestamp,
      startedAt: arbitraryIsoTimestamp,
      keySharedAt: fc.option(arbitraryIsoTimestamp, { nil: null }),
      targetReadyAt: fc.option(arbitraryIsoTimestamp, { nil: null }),
      switchedAt: fc.option(arbitraryIsoTimestamp, { nil: null }),
      firstPacketAt: fc.option(arbitraryIsoTimestamp, { nil: null }),
      forwardingEndedAt: fc.option(arbitraryIsoTimestamp, { nil: null }),
    }, plain),
    blackoutMs: fc.option(arbitraryNonNegativeInt, { nil: null }),
    forwarded: fc.option(arbitraryNonNegativeInt, { nil: null }),
    packetsLost: arbitraryNonNegativeInt,
  }, { requiredKeys: ['migrationId', 'vmId', 'vni', 'ip', 'fromHostId', 'toHostId', 'steps', 'blackoutMs', 'forwarded'], noNullPrototype: true }),
  MigrationFailed: fc.record({
    migrationId: arbitraryMigrationId,
    vmId: arbitraryVmId,
    toHostId: arbitraryHostId,
    step: fc.constantFrom('requested', 'started', 'key-shared') as fc.Arbitrary<PayloadOf<'MigrationFailed'>['step']>,
    reason: fc.constantFrom('unknown-vm', 'unknown-host', 'host-drained', 'host-removed', 'same-host', 'out-of-capacity', 'already-migrating', 'target-unresponsive') as fc.Arbitrary<PayloadOf<'MigrationFailed'>['reason']>,
    detail: fc.string({ maxLength: 60 }),
    rolledBack: fc.boolean(),
  }, plain),
  MigrationDeadlinePassed: fc.record({
    migrationId: arbitraryMigrationId,
    step: fc.constantFrom('started', 'key-shared', 'switched') as fc.Arbitrary<PayloadOf<'MigrationDeadlinePassed'>['step']>,
    afterMs: arbitraryPositiveInt,
  }, plain),
  ResourceNodeAdded: fc.record({
    node: arbitraryNodeRef,
    capacity: fc.record({ ips: arbitraryCidr, cpus: arbitraryPositiveInt, memoryMiB: arbitraryPositiveInt, instances: arbitraryPositiveInt }, { requiredKeys: [], noNullPrototype: true }),
  }, plain),
  ResourceLinked: fc.record({ from: arbitraryNodeRef, to: arbitraryNodeRef, relation: fc.constantFrom('owns', 'uses') as fc.Arbitrary<PayloadOf<'ResourceLinked'>['relation']> }, plain),
  ResourceDeletionRequested: fc.record({ node: arbitraryNodeRef, reason: fc.string({ maxLength: 60 }) }, { requiredKeys: ['node'], noNullPrototype: true }),
  ResourceNodeDeleted: fc.record({ node: arbitraryNodeRef, owner: arbitraryNodeRef }, { requiredKeys: ['node'], noNullPrototype: true }),
  AllocationRequested: fc.record({ ...allocationFields, ip: arbitraryIpv4 }, { requiredKeys: [...allocationKeys], noNullPrototype: true }),
  ReleaseRequested: fc.record({ allocationId: arbitraryAllocationId, provider: arbitraryNodeRef }, plain),
  ResourceAllocated: fc.record({ ...allocationFields, ip: arbitraryIpv4 }, { requiredKeys: [...allocationKeys], noNullPrototype: true }),
  ResourceReleased: fc.record(
    { ...allocationFields, reason: fc.constantFrom('requested', 'holder-deleted', 'provider-deleted') as fc.Arbitrary<PayloadOf<'ResourceReleased'>['reason']>, ip: arbitraryIpv4 },
    { requiredKeys: [...allocationKeys, 'reason'], noNullPrototype: true },
  ),
  AllocationRefused: fc.record({
    ...allocationFields,
    reason: fc.constantFrom('unknown-node', 'node-deleted', 'not-linked', 'not-provided', 'exhausted', 'bad-amount', 'unavailable') as fc.Arbitrary<PayloadOf<'AllocationRefused'>['reason']>,
    detail: fc.string({ maxLength: 60 }),
    ip: arbitraryIpv4,
  }, { requiredKeys: [...allocationKeys, 'reason', 'detail'], noNullPrototype: true }),
  ImageUploaded: fc.record({ imageId: arbitraryImageId, name: arbitraryDisplayName, regionId: arbitraryRegionId, digest: arbitrarySha256, size: arbitraryPositiveInt }, plain),
  ImageReplicationRequested: fc.record({ imageId: arbitraryImageId, regionId: arbitraryRegionId, reason: fc.string({ maxLength: 60 }) }, { requiredKeys: ['imageId', 'regionId'], noNullPrototype: true }),
  ImageReplicationStarted: fc.record({ imageId: arbitraryImageId, fromRegionId: arbitraryRegionId, toRegionId: arbitraryRegionId, size: arbitraryPositiveInt, attempt: arbitraryPositiveInt }, plain),
  ImageReplicationProgress: fc.record({ imageId: arbitraryImageId, toRegionId: arbitraryRegionId, attempt: arbitraryPositiveInt, copied: arbitraryNonNegativeInt, size: arbitraryPositiveInt }, plain),
  ImageReplicated: fc.record({
    imageId: arbitraryImageId, fromRegionId: arbitraryRegionId, regionId: arbitraryRegionId, digest: arbitrarySha256, size: arbitraryPositiveInt, attempt: arbitraryPositiveInt, tookMs: arbitraryNonNegativeInt,
  }, plain),
  ImageReplicationFailed: fc.record({
    imageId: arbitraryImageId,
    toRegionId: arbitraryRegionId,
    attempt: arbitraryNonNegativeInt,
    reason: fc.constantFrom('unknown-image', 'no-source', 'digest-mismatch', 'copy-error', 'too-many-attempts') as fc.Arbitrary<PayloadOf<'ImageReplicationFailed'>['reason']>,
    detail: fc.string({ maxLength: 60 }),
  }, plain),
  InstancesRequested: fc.record({
    requestId: arbitraryRequestId,
    projectId: arbitraryProjectId,
    networkId: arbitraryNetworkId,
    imageId: arbitraryImageId,
    regionId: arbitraryRegionId,
    count: fc.integer({ min: 1, max: 500 }) as unknown as fc.Arbitrary<PayloadOf<'InstancesRequested'>['count']>,
    size: fc.record({ cpus: arbitraryPositiveInt, memoryMiB: arbitraryPositiveInt }, plain),
  }, plain),
  InstancesCreated: fc.record({
    requestId: arbitraryRequestId,
    regionId: arbitraryRegionId,
    imageId: arbitraryImageId,
    vms: fc.array(fc.record({ vmId: arbitraryVmId, hostId: arbitraryHostId, ip: arbitraryIpv4 }, plain), { maxLength: 4 }),
  }, plain),
  InstancesRequestFailed: fc.record({
    requestId: arbitraryRequestId,
    reason: fc.constantFrom('unknown-project', 'unknown-network', 'unknown-region', 'image-unavailable', 'quota-exceeded', 'no-capacity', 'no-addresses', 'error') as fc.Arbitrary<PayloadOf<'InstancesRequestFailed'>['reason']>,
    detail: fc.string({ maxLength: 60 }),
    released: arbitraryNonNegativeInt,
  }, plain),
};

/** A valid current-version payload of event type `type`. */
export function arbitraryPayloadOf<K extends EventType>(type: K): fc.Arbitrary<PayloadOf<K>> {
  return arbitraryPayloads[type];
}

/** A valid current-version event of type `type`, with random ids, causation and timestamp. */
export function arbitraryEventOf<K extends EventType>(type: K): fc.Arbitrary<EventOf<K>> {
  const event = fc.record({
    type: fc.constant(type),
    schemaVersion: fc.constant(CURRENT_VERSIONS[type]),
    id: arbitraryEventId,
    causationId: fc.option(arbitraryEventId, { nil: null }),
    correlationId: arbitraryEventId,
    occurredAt: arbitraryIsoTimestamp,
    payload: arbitraryPayloadOf(type) as fc.Arbitrary<PayloadOf<EventType>>,
  }, plain);
  // fc.record builds exactly the envelope fields; TypeScript cannot follow K through the maps.
  return event as unknown as fc.Arbitrary<EventOf<K>>;
}

/** A valid current-version event of any type of the catalogue. */
export const arbitraryDomainEvent: fc.Arbitrary<DomainEvent> = fc.oneof(
  ...EVENT_TYPES.map((type) => arbitraryEventOf(type) as fc.Arbitrary<DomainEvent>),
);

/** A valid current-version event of a type external systems may publish (what the JSON Schema covers). */
export const arbitraryExternalEvent: fc.Arbitrary<DomainEvent> = fc.oneof(
  ...EXTERNAL_EVENT_TYPES.map((type) => arbitraryEventOf(type) as fc.Arbitrary<DomainEvent>),
);

/**
 * A current event from a plain payload, validated as the gateway would (for tests and
 * benchmarks that write what the services read); throws saying what is wrong. With `cause`,
 * caused by it and in its conversation.
 */
export function eventFrom(
  type: string,
  payload: Record<string, unknown>,
  o: { readonly schemaVersion?: number; readonly cause?: { readonly id: string; readonly correlationId: string } } = {},
): DomainEvent {
  const id = globalThis.crypto.randomUUID();
  const d = decodeEvent({
    type,
    schemaVersion: o.schemaVersion ?? 1,
    id,
    causationId: o.cause?.id ?? null,
    correlationId: o.cause?.correlationId ?? id,
    occurredAt: new Date().toISOString(),
    payload,
  });
  if (d._tag === 'Left') throw new Error(`event ${type} is not valid: ${formatDecodeFailure(d.left)}`);
  return d.right;
}
