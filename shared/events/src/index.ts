/**
 * @vnet/events: the event catalogue of vnet. Every domain event is an io-ts codec defined
 * once here; types come from the codecs; bytes are decoded (and old versions upcast) at the
 * edge; the JSON Schema for external publishers is generated from the same codecs.
 * Pure: this package does no I/O.
 */
export {
  AGGREGATE_ID_PATTERN,
  DatacenterId,
  DisplayName,
  EventId,
  HostId,
  IsoTimestamp,
  isIsoTimestamp,
  NetworkId,
  NonNegativeInt,
  PAIR_ID_PATTERN,
  PairId,
  pairIdOf,
  PositiveInt,
  ProjectId,
  RegionId,
  RuleId,
  MigrationId,
  Tag,
  U32,
  UUID_PATTERN,
  VmId,
} from './ids';
export {
  base64ByteLength,
  Cidr,
  cidrContains,
  cidrParts,
  intToIpv4,
  Ipv4,
  ipv4ToInt,
  prefixMask,
  PublicKey,
  Base64,
  UnderlayAddress,
  Vni,
  VNI_MAX,
  type CidrParts,
} from './net';
export { closed } from './closed';
export {
  DatacenterDeclaredPayload,
  HostCapacity,
  HostDrainedPayload,
  HostRegisteredPayload,
  HostRemovedPayload,
  HostVmAttachedPayload,
  HostVmDetachedPayload,
  MappingRemovalReason,
  NetworkCreatedPayload,
  PAYLOAD_CODECS,
  PlacementRejectionReason,
  RegionDeclaredPayload,
  VmDeletedPayload,
  VmMappingAddedPayload,
  VmMappingRemovedPayload,
  VmPlacedPayload,
  VmPlacementRejectedPayload,
  KeyIssueReason,
  PairAuthorizedPayload,
  PairDenialReason,
  PairDeniedPayload,
  PairRequestedPayload,
  PairRevokedPayload,
  PairTokenIssuedPayload,
  PairTokensVoidedPayload,
  PolicyRuleRemovedPayload,
  PolicyRuleSetPayload,
  RuleAction,
  SealedBox,
  Selector,
  TokenRejectedPayload,
  MigrationRequestedPayload,
  MigrationStartedPayload,
  VmKeySharedPayload,
  MigrationTargetReadyPayload,
  MigrationSwitchingPayload,
  VmMovedPayload,
  MigrationTrafficArrivedPayload,
  MigrationForwardingEndedPayload,
  MigrationSteps,
  MigrationCompletedPayload,
  MigrationFailureReason,
  MigrationFailedPayload,
  MigrationDeadlinePassedPayload,
  TokenRejectionReason,
  VmKeyIssuedPayload,
  VmKeyRotationRequestedPayload,
  VmTaggedPayload,
} from './payloads';
export { CausationId, envelopeCodec, type EnvelopeC } from './envelope';
export {
  CURRENT_VERSIONS,
  ENVELOPE_CODECS,
  EVENT_DESCRIPTIONS,
  EVENT_TYPES,
  EXTERNAL_EVENT_TYPES,
  isEventType,
  type DomainEvent,
  type EventOf,
  type EventType,
  type ExternalEventType,
  type PayloadOf,
} from './catalogue';
export { HostRegisteredV1Payload, UPCASTERS, upcastPayload, type Upcaster } from './upcasters';
export {
  decodeFailure,
  decodeProblem,
  formatDecodeFailure,
  isDecodeFailure,
  type DecodeFailure,
  type DecodeProblem,
} from './errors';
export { decodeEvent, decodeEventBytes, encodeEvent, encodeEventBytes } from './decode';
export { causedBy, describeEvent, newEvent, streamNameOf, type NewEventOptions } from './events';
export { BRAND_DOCS, type JsonSchema } from './brands';
export { buildExternalSchema, EXTERNAL_SCHEMA_ID, renderExternalSchema } from './schema';
export { mustDecode } from './make';
export { domainEventCodec } from './codec';
export { MAX_EXTERNAL_EVENT_BYTES, validateExternal, type Rejection, type RejectionKind } from './external';
