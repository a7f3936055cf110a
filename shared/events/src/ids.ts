/**
 * Identifiers, timestamps and small scalar types of the catalogue, as branded io-ts codecs.
 *
 * Aggregate ids become NATS subject tokens (`vnet.evt.vm.<vmId>`), so they may hold no dot,
 * space or wildcard; the brand makes a `VmId` impossible to pass where a `HostId` is meant.
 * Every pattern here is also the JSON Schema `pattern` (see `brands.ts`). The codecs test the
 * same languages with the hand-written scanners of `scan.ts`, which are faster than the regexes.
 */
import * as t from 'io-ts';
import { isAggregateId, isIsoTimestampScan, isUuid } from './scan';

/** Pattern of every aggregate id: 1–63 characters of `a-z 0-9 _ -`, starting with a letter or digit. */
export const AGGREGATE_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** Pattern of an event id: a UUID in canonical lowercase form (what `crypto.randomUUID()` gives). */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Pattern of an RFC 3339 date-time with an upper-case `T` and `Z` (or a numeric offset) and
 * 0–9 fraction digits. The day is further checked against the month (no 30 February).
 */
export const ISO_TIMESTAMP_PATTERN =
  /^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$/;

/** Pattern of a display name: no control characters and at least one non-space character. */
export const DISPLAY_NAME_PATTERN = /^[^\u0000-\u001f\u007f]*\S[^\u0000-\u001f\u007f]*$/;

/** Longest display name, in Unicode code points (JSON Schema's `maxLength` counts the same way). */
export const DISPLAY_NAME_MAX = 128;

/** Brand of {@link EventId}. */
export interface EventIdBrand { readonly EventId: unique symbol }
/** Id of one event (also its `Nats-Msg-Id`, so a retried append is deduplicated). */
export const EventId = t.brand(t.string, (s): s is t.Branded<string, EventIdBrand> => isUuid(s), 'EventId');
/** Id of one event: a lowercase UUID. */
export type EventId = t.TypeOf<typeof EventId>;

/** Brand of {@link RegionId}. */
export interface RegionIdBrand { readonly RegionId: unique symbol }
/** Id of a region (a set of datacenters). */
export const RegionId = t.brand(t.string, (s): s is t.Branded<string, RegionIdBrand> => isAggregateId(s), 'RegionId');
/** Id of a region; a NATS subject token. */
export type RegionId = t.TypeOf<typeof RegionId>;

/** Brand of {@link DatacenterId}. */
export interface DatacenterIdBrand { readonly DatacenterId: unique symbol }
/** Id of a datacenter (a failure domain inside a region). */
export const DatacenterId = t.brand(t.string, (s): s is t.Branded<string, DatacenterIdBrand> => isAggregateId(s), 'DatacenterId');
/** Id of a datacenter; a NATS subject token. */
export type DatacenterId = t.TypeOf<typeof DatacenterId>;

/** Brand of {@link HostId}. */
export interface HostIdBrand { readonly HostId: unique symbol }
/** Id of a physical host that runs VMs and a host agent. */
export const HostId = t.brand(t.string, (s): s is t.Branded<string, HostIdBrand> => isAggregateId(s), 'HostId');
/** Id of a host; a NATS subject token. */
export type HostId = t.TypeOf<typeof HostId>;

/** Brand of {@link ProjectId}. */
export interface ProjectIdBrand { readonly ProjectId: unique symbol }
/** Id of a project (the tenant that owns networks). */
export const ProjectId = t.brand(t.string, (s): s is t.Branded<string, ProjectIdBrand> => isAggregateId(s), 'ProjectId');
/** Id of a project; a NATS subject token. */
export type ProjectId = t.TypeOf<typeof ProjectId>;

/** Brand of {@link NetworkId}. */
export interface NetworkIdBrand { readonly NetworkId: unique symbol }
/** Id of a virtual network (one VNI, one CIDR). */
export const NetworkId = t.brand(t.string, (s): s is t.Branded<string, NetworkIdBrand> => isAggregateId(s), 'NetworkId');
/** Id of a virtual network; a NATS subject token. */
export type NetworkId = t.TypeOf<typeof NetworkId>;

/** Brand of {@link VmId}. */
export interface VmIdBrand { readonly VmId: unique symbol }
/** Id of a virtual machine. */
export const VmId = t.brand(t.string, (s): s is t.Branded<string, VmIdBrand> => isAggregateId(s), 'VmId');
/** Id of a virtual machine; a NATS subject token. */
export type VmId = t.TypeOf<typeof VmId>;

/** True when `s` is an RFC 3339 date-time that names a real calendar day and `Date` parses. */
export function isIsoTimestamp(s: string): boolean {
  return isIsoTimestampScan(s);
}

/** Brand of {@link IsoTimestamp}. */
export interface IsoTimestampBrand { readonly IsoTimestamp: unique symbol }
/** When something happened, as an RFC 3339 string (kept as a string so it round-trips exactly). */
export const IsoTimestamp = t.brand(t.string, (s): s is t.Branded<string, IsoTimestampBrand> => isIsoTimestamp(s), 'IsoTimestamp');
/** An RFC 3339 date-time string, e.g. `2024-05-01T12:00:00.000Z`. */
export type IsoTimestamp = t.TypeOf<typeof IsoTimestamp>;

/** Brand of {@link DisplayName}. */
export interface DisplayNameBrand { readonly DisplayName: unique symbol }
/** A human-readable name: 1–128 code points, not blank, no control characters (it goes into log lines). */
export const DisplayName = t.brand(
  t.string,
  (s): s is t.Branded<string, DisplayNameBrand> => DISPLAY_NAME_PATTERN.test(s) && (s.length <= DISPLAY_NAME_MAX || [...s].length <= DISPLAY_NAME_MAX),
  'DisplayName',
);
/** A human-readable name of a region or datacenter. */
export type DisplayName = t.TypeOf<typeof DisplayName>;

/** Brand of {@link PositiveInt}. */
export interface PositiveIntBrand { readonly PositiveInt: unique symbol }
/** A safe integer of at least 1 (counts and sizes). */
export const PositiveInt = t.brand(t.number, (n): n is t.Branded<number, PositiveIntBrand> => Number.isSafeInteger(n) && n >= 1, 'PositiveInt');
/** A safe integer of at least 1. */
export type PositiveInt = t.TypeOf<typeof PositiveInt>;

/** Brand of {@link MigrationId}. */
export interface MigrationIdBrand { readonly MigrationId: unique symbol }
/** Id of one live migration (chosen by whoever asks for it; `vnet migrate` makes one). */
export const MigrationId = t.brand(t.string, (s): s is t.Branded<string, MigrationIdBrand> => isAggregateId(s), 'MigrationId');
/** Id of a live migration; a NATS subject token. */
export type MigrationId = t.TypeOf<typeof MigrationId>;

/** Brand of {@link ResourceId}. */
export interface ResourceIdBrand { readonly ResourceId: unique symbol }
/** Id of a node of the resource graph, unique within its kind (a subnet and a network may share one). */
export const ResourceId = t.brand(t.string, (s): s is t.Branded<string, ResourceIdBrand> => isAggregateId(s), 'ResourceId');
/** Id of a resource-graph node; a NATS subject token. */
export type ResourceId = t.TypeOf<typeof ResourceId>;

/** Brand of {@link AllocationId}. */
export interface AllocationIdBrand { readonly AllocationId: unique symbol }
/** Id of one allocation (chosen by whoever asks; asking again with the same id changes nothing). */
export const AllocationId = t.brand(t.string, (s): s is t.Branded<string, AllocationIdBrand> => isAggregateId(s), 'AllocationId');
/** Id of an allocation; a NATS subject token. */
export type AllocationId = t.TypeOf<typeof AllocationId>;

/** Brand of {@link ImageId}. */
export interface ImageIdBrand { readonly ImageId: unique symbol }
/** Id of a VM image in the global catalogue. */
export const ImageId = t.brand(t.string, (s): s is t.Branded<string, ImageIdBrand> => isAggregateId(s), 'ImageId');
/** Id of a VM image; a NATS subject token. */
export type ImageId = t.TypeOf<typeof ImageId>;

/** A SHA-256 digest as 64 lowercase hex digits. */
export const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/;
/** Brand of {@link Sha256Hex}. */
export interface Sha256HexBrand { readonly Sha256Hex: unique symbol }
/** A SHA-256 digest, lowercase hex. */
export const Sha256Hex = t.brand(t.string, (s): s is t.Branded<string, Sha256HexBrand> => SHA256_HEX_PATTERN.test(s), 'Sha256Hex');
/** A SHA-256 digest, 64 lowercase hex digits. */
export type Sha256Hex = t.TypeOf<typeof Sha256Hex>;

/** Brand of {@link RequestId}. */
export interface RequestIdBrand { readonly RequestId: unique symbol }
/** Id of a request for instances (chosen by whoever asks; the same id again changes nothing). At most 56 characters: its VMs are `<id>-<n>`. */
export const RequestId = t.brand(t.string, (s): s is t.Branded<string, RequestIdBrand> => isAggregateId(s) && s.length <= 56, 'RequestId');
/** Id of a request for instances; a NATS subject token. */
export type RequestId = t.TypeOf<typeof RequestId>;

/** Brand of {@link RuleId}. */
export interface RuleIdBrand { readonly RuleId: unique symbol }
/** Id of a policy rule. */
export const RuleId = t.brand(t.string, (s): s is t.Branded<string, RuleIdBrand> => isAggregateId(s), 'RuleId');
/** Id of a policy rule; a NATS subject token. */
export type RuleId = t.TypeOf<typeof RuleId>;

/** Brand of {@link Tag}. */
export interface TagBrand { readonly Tag: unique symbol }
/** A label on a VM that policy rules can select (`web`, `db`, `team-a`). */
export const Tag = t.brand(t.string, (s): s is t.Branded<string, TagBrand> => isAggregateId(s), 'Tag');
/** A VM label. */
export type Tag = t.TypeOf<typeof Tag>;

/** Brand of {@link PairId}. */
export interface PairIdBrand { readonly PairId: unique symbol }
/**
 * Id of a virtual network pair: `<vni>-<source IPv4 as 8 hex digits>-<destination as 8 hex
 * digits>` (e.g. `4242-0a000001-0a000002`), so the same pair always has the same id.
 */
export const PairId = t.brand(t.string, (s): s is t.Branded<string, PairIdBrand> => PAIR_ID_PATTERN.test(s), 'PairId');
/** Id of a pair (VNI, source address, destination address). */
export type PairId = t.TypeOf<typeof PairId>;
/** Pattern of a {@link PairId}. */
export const PAIR_ID_PATTERN = /^(?:0|[1-9][0-9]{0,7})-[0-9a-f]{8}-[0-9a-f]{8}$/;

/** The id of the pair (vni, src, dst); addresses as u32. */
export function pairIdOf(vni: number, src: number, dst: number): PairId {
  const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
  return `${vni}-${hex(src)}-${hex(dst)}` as PairId;
}

/** Brand of {@link NonNegativeInt}. */
export interface NonNegativeIntBrand { readonly NonNegativeInt: unique symbol }
/** A safe integer of at least 0 (versions, counters). */
export const NonNegativeInt = t.brand(t.number, (n): n is t.Branded<number, NonNegativeIntBrand> => Number.isSafeInteger(n) && n >= 0, 'NonNegativeInt');
/** A safe integer of at least 0. */
export type NonNegativeInt = t.TypeOf<typeof NonNegativeInt>;

/** Brand of {@link U32}. */
export interface U32Brand { readonly U32: unique symbol }
/** An unsigned 32-bit integer (key ids, expiry in unix seconds: what the Geneve option carries). */
export const U32 = t.brand(t.number, (n): n is t.Branded<number, U32Brand> => Number.isInteger(n) && n >= 0 && n <= 0xffffffff, 'U32');
/** An unsigned 32-bit integer. */
export type U32 = t.TypeOf<typeof U32>;
