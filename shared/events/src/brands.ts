/**
 * What each branded type accepts, said once for people and once for machines: the summary
 * that decode failures print ("expected Vni (integer 0..16777215)") and the JSON Schema
 * fragment external publishers validate against. The patterns are the very regexes the
 * codecs test, so the schema cannot drift from the decoder; checks a regex cannot express
 * (CIDR host bits, days per month) are written in `description`.
 */
import {
  AGGREGATE_ID_PATTERN,
  DISPLAY_NAME_MAX,
  DISPLAY_NAME_PATTERN,
  ISO_TIMESTAMP_PATTERN,
  PAIR_ID_PATTERN,
  SHA256_HEX_PATTERN,
  UUID_PATTERN,
} from './ids';
import {
  BASE64_PATTERN,
  base64ByteLength,
  cidrHostBitsFix,
  CIDR_PATTERN,
  IPV4_PATTERN,
  PUBLIC_KEY_PATTERN,
  UNDERLAY_ADDRESS_PATTERN,
  VNI_MAX,
} from './net';

/** A JSON Schema fragment (draft 2020-12), as plain data. */
export type JsonSchema = { readonly [keyword: string]: unknown };

/** What one brand accepts. */
export interface BrandDoc {
  /** Short human description, printed after the brand name in decode failures. */
  readonly summary: string;
  /** The JSON Schema of the accepted values. */
  readonly schema: JsonSchema;
  /** For a rejected value, a hint on what is wrong with it, when there is more to say. */
  readonly explain?: (value: unknown) => string | undefined;
}

const idDoc = (what: string): BrandDoc => ({
  summary: '1-63 chars of a-z 0-9 _ -, starting with a letter or digit',
  schema: {
    type: 'string',
    pattern: AGGREGATE_ID_PATTERN.source,
    description: `Id of a ${what}. It is a NATS subject token, so it has no dot, space or wildcard.`,
  },
});

function explainIpv4(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const parts = value.split('.');
  if (parts.length !== 4) return `an IPv4 address has 4 parts, this has ${parts.length}`;
  for (const p of parts) {
    if (!/^[0-9]+$/.test(p)) return `"${p}" is not a decimal octet`;
    if (Number(p) > 255) return `octet ${p} is out of range 0..255`;
    if (p.length > 1 && p.startsWith('0')) return `octet "${p}" has a leading zero`;
  }
  return undefined;
}

/** Every brand used by a codec of the catalogue, by brand name. The schema generator refuses others. */
export const BRAND_DOCS: { readonly [name: string]: BrandDoc } = {
  EventId: {
    summary: 'UUID, lowercase',
    schema: { type: 'string', pattern: UUID_PATTERN.source, description: 'A UUID in lowercase 8-4-4-4-12 form.' },
  },
  RegionId: idDoc('region'),
  DatacenterId: idDoc('datacenter'),
  HostId: idDoc('host'),
  ProjectId: idDoc('project'),
  NetworkId: idDoc('virtual network'),
  VmId: idDoc('virtual machine'),
  RuleId: idDoc('policy rule'),
  MigrationId: idDoc('live migration'),
  ResourceId: idDoc('resource-graph node (unique within its kind)'),
  AllocationId: idDoc('resource allocation'),
  ImageId: idDoc('VM image'),
  InstanceCount: {
    summary: 'integer 1..500',
    schema: { type: 'integer', minimum: 1, maximum: 500, description: 'How many VMs one request starts (at most 500).' },
  },
  RequestId: {
    summary: '1-56 chars of a-z 0-9 _ -, starting with a letter or digit',
    schema: { type: 'string', pattern: AGGREGATE_ID_PATTERN.source, maxLength: 56, description: 'Id of a request for instances; its VMs are named <id>-1, <id>-2, ...' },
  },
  Sha256Hex: {
    summary: 'SHA-256 digest, 64 lowercase hex digits',
    schema: { type: 'string', pattern: SHA256_HEX_PATTERN.source, description: 'SHA-256 of the bytes, as 64 lowercase hex digits.' },
  },
  Tag: {
    summary: '1-63 chars of a-z 0-9 _ -, starting with a letter or digit',
    schema: { type: 'string', pattern: AGGREGATE_ID_PATTERN.source, description: 'A label on a VM that policy rules select.' },
  },
  PairId: {
    summary: '<vni>-<src IPv4 as 8 hex digits>-<dst IPv4 as 8 hex digits>',
    schema: { type: 'string', pattern: PAIR_ID_PATTERN.source, description: 'Id of a virtual network pair, e.g. 4242-0a000001-0a000002.' },
  },
  NonNegativeInt: {
    summary: 'integer >= 0',
    schema: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
  },
  U32: {
    summary: 'integer 0..4294967295',
    schema: { type: 'integer', minimum: 0, maximum: 0xffffffff },
  },
  Base64: {
    summary: 'standard padded base64, 4..256 characters',
    schema: { type: 'string', pattern: BASE64_PATTERN.source },
  },
  IsoTimestamp: {
    summary: 'RFC 3339 date-time such as 2024-05-01T12:00:00.000Z',
    schema: {
      type: 'string',
      format: 'date-time',
      pattern: ISO_TIMESTAMP_PATTERN.source,
      description: 'RFC 3339 date-time with upper-case T and Z or a numeric offset; the day must exist in its month.',
    },
    explain: (value) =>
      typeof value === 'string' && ISO_TIMESTAMP_PATTERN.test(value) ? 'that day does not exist in that month' : undefined,
  },
  DisplayName: {
    summary: `1..${DISPLAY_NAME_MAX} characters, not blank, no control characters`,
    schema: { type: 'string', minLength: 1, maxLength: DISPLAY_NAME_MAX, pattern: DISPLAY_NAME_PATTERN.source },
  },
  PositiveInt: {
    summary: 'integer >= 1',
    schema: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
  },
  Vni: {
    summary: `integer 0..${VNI_MAX}`,
    schema: { type: 'integer', minimum: 0, maximum: VNI_MAX, description: '24-bit virtual network identifier.' },
  },
  Ipv4: {
    summary: 'dotted-quad IPv4, octets 0..255 without leading zeros',
    schema: { type: 'string', pattern: IPV4_PATTERN.source },
    explain: explainIpv4,
  },
  Cidr: {
    summary: 'IPv4 network a.b.c.d/0..32 with no host bits set',
    schema: {
      type: 'string',
      pattern: CIDR_PATTERN.source,
      description: 'IPv4 network. The address must be the network address: 10.0.0.0/24, not 10.0.0.1/24.',
    },
    explain: (value) => {
      if (typeof value !== 'string') return undefined;
      const fix = cidrHostBitsFix(value);
      if (fix !== undefined) return `host bits are set: the network address would be ${fix} (${fix}/${value.split('/')[1]})`;
      return CIDR_PATTERN.test(value) ? undefined : explainIpv4(value.split('/')[0]);
    },
  },
  UnderlayAddress: {
    summary: 'host:port, host an IPv4 address or DNS name, port 1..65535',
    schema: {
      type: 'string',
      pattern: UNDERLAY_ADDRESS_PATTERN.source,
      description: 'Where the host receives encapsulated traffic: IPv4 address or DNS name, a colon, a port 1..65535.',
    },
  },
  PublicKey: {
    summary: 'base64 of a 32-byte X25519 public key',
    schema: {
      type: 'string',
      pattern: PUBLIC_KEY_PATTERN.source,
      description: 'Raw X25519 public key (32 bytes), standard base64 with padding (44 characters).',
    },
    explain: (value) => {
      if (typeof value !== 'string') return undefined;
      const bytes = base64ByteLength(value);
      if (bytes === undefined) return 'not standard padded base64';
      return bytes === 32 ? 'not canonical base64 (the unused low bits must be zero)' : `decodes to ${bytes} bytes, not 32`;
    },
  },
};
