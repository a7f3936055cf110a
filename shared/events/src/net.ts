/**
 * Network scalars as branded io-ts codecs (VNI, IPv4, CIDR, underlay address, X25519 key) and
 * the pure helpers the catalogue and its readers need (`ipv4ToInt`, `cidrContains`, …).
 */
import * as t from 'io-ts';
import { ipv4At, isCidrScan, isPublicKeyScan, isUnderlayAddressScan } from './scan';

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
const IPV4 = `${OCTET}(?:\\.${OCTET}){3}`;
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
// The last label must hold a letter (RFC 3696 §2), or "10.0.0.256" would pass as a DNS name.
const TOP_LABEL = `(?=[A-Za-z0-9-]*[A-Za-z])${LABEL}`;
// A DNS name is at most 253 characters: the look-ahead counts up to the ':' before the port.
const DNS_NAME = `(?=[^:]{1,253}:)(?:${LABEL}\\.)*${TOP_LABEL}`;
const PORT = '(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})';

/** Largest VXLAN/Geneve network identifier (24 bits). */
export const VNI_MAX = 0xffffff;

/** Dotted-quad IPv4, each octet 0..255 written without leading zeros. */
export const IPV4_PATTERN = new RegExp(`^${IPV4}$`);

/** IPv4 address, `/`, prefix length 0..32 (that the address is the network address is checked apart). */
export const CIDR_PATTERN = new RegExp(`^${IPV4}/(?:3[0-2]|[12]?[0-9])$`);

/** `host:port`: host an IPv4 address or a DNS name, port 1..65535. */
export const UNDERLAY_ADDRESS_PATTERN = new RegExp(`^(?:${IPV4}|${DNS_NAME}):${PORT}$`);

/** Canonical base64 of exactly 32 bytes: 43 characters, the last with 4 zero bits, then `=`. */
export const PUBLIC_KEY_PATTERN = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** Brand of {@link Vni}. */
export interface VniBrand { readonly Vni: unique symbol }
/** A 24-bit virtual network identifier, as carried in the Geneve header. */
export const Vni = t.brand(t.number, (n): n is t.Branded<number, VniBrand> => Number.isInteger(n) && n >= 0 && n <= VNI_MAX, 'Vni');
/** A 24-bit virtual network identifier (0..16777215). */
export type Vni = t.TypeOf<typeof Vni>;

/** Brand of {@link Ipv4}. */
export interface Ipv4Brand { readonly Ipv4: unique symbol }
/** An IPv4 address in canonical dotted-quad form (no leading zeros, so one address has one spelling). */
export const Ipv4 = t.brand(t.string, (s): s is t.Branded<string, Ipv4Brand> => ipv4At(s, 0, s.length) >= 0, 'Ipv4');
/** An IPv4 address such as `10.0.0.5`. */
export type Ipv4 = t.TypeOf<typeof Ipv4>;

/** Brand of {@link Cidr}. */
export interface CidrBrand { readonly Cidr: unique symbol }
/** An IPv4 network `a.b.c.d/len` whose address is the network address (no host bits set). */
export const Cidr = t.brand(t.string, (s): s is t.Branded<string, CidrBrand> => isCidrScan(s), 'Cidr');
/** An IPv4 network such as `10.0.0.0/24`. */
export type Cidr = t.TypeOf<typeof Cidr>;

/** Brand of {@link UnderlayAddress}. */
export interface UnderlayAddressBrand { readonly UnderlayAddress: unique symbol }
/** Where a host receives encapsulated traffic on the physical network. */
export const UnderlayAddress = t.brand(
  t.string,
  (s): s is t.Branded<string, UnderlayAddressBrand> => isUnderlayAddressScan(s),
  'UnderlayAddress',
);
/** A `host:port` such as `192.0.2.10:6081` or `h1.dc1.example:6081`. */
export type UnderlayAddress = t.TypeOf<typeof UnderlayAddress>;

/** Brand of {@link PublicKey}. */
export interface PublicKeyBrand { readonly PublicKey: unique symbol }
/** A raw X25519 public key (32 bytes) in base64; per-VM secrets are sealed to it. */
export const PublicKey = t.brand(t.string, (s): s is t.Branded<string, PublicKeyBrand> => isPublicKeyScan(s), 'PublicKey');
/** Base64 of a 32-byte X25519 public key. */
export type PublicKey = t.TypeOf<typeof PublicKey>;

/** The 32-bit unsigned value of a dotted quad. The input must be a valid {@link Ipv4}. */
export function ipv4ToInt(ip: Ipv4 | string): number {
  let n = 0;
  for (const part of ip.split('.')) n = n * 256 + Number(part);
  return n >>> 0;
}

/** The dotted quad of a 32-bit unsigned value (taken modulo 2^32). */
export function intToIpv4(n: number): Ipv4 {
  const u = n >>> 0;
  return [u >>> 24, (u >>> 16) & 255, (u >>> 8) & 255, u & 255].join('.') as Ipv4;
}

/** The netmask of a prefix length, as a 32-bit unsigned value (`/24` → 0xffffff00). */
export function prefixMask(prefix: number): number {
  return prefix <= 0 ? 0 : (0xffffffff << (32 - Math.min(prefix, 32))) >>> 0;
}

/** The parts of a network: its address, prefix length, and size in addresses. */
export interface CidrParts {
  /** The network address (all host bits zero). */
  readonly network: Ipv4;
  /** Prefix length 0..32. */
  readonly prefix: number;
  /** How many addresses the network spans (2^(32-prefix)). */
  readonly size: number;
}

/** Splits a valid {@link Cidr} into its network address and prefix length. */
export function cidrParts(cidr: Cidr): CidrParts {
  const [address = '', len = '0'] = cidr.split('/');
  const prefix = Number(len);
  return { network: intToIpv4(ipv4ToInt(address) & prefixMask(prefix)), prefix, size: 2 ** (32 - prefix) };
}

/** True when `ip` lies inside the network `cidr` (network and broadcast addresses included). */
export function cidrContains(cidr: Cidr, ip: Ipv4): boolean {
  const { network, prefix } = cidrParts(cidr);
  const mask = prefixMask(prefix);
  return ((ipv4ToInt(ip) & mask) >>> 0) === ipv4ToInt(network);
}

/**
 * For a string shaped like a CIDR whose address has host bits set, the network address it
 * should have been written with (`10.0.0.1/24` → `10.0.0.0`); otherwise undefined.
 */
export function cidrHostBitsFix(s: string): Ipv4 | undefined {
  if (!CIDR_PATTERN.test(s)) return undefined;
  const [address = '', len = '0'] = s.split('/');
  const network = intToIpv4(ipv4ToInt(address) & prefixMask(Number(len)));
  return network === address ? undefined : network;
}

/** How many bytes a well-formed base64 string decodes to, or undefined when it is not base64. */
export function base64ByteLength(s: string): number | undefined {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  const padding = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return (s.length / 4) * 3 - padding;
}

/** Standard padded base64 of at most 256 characters. */
export const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4}){0,63}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$/;

/** Brand of {@link Base64}. */
export interface Base64Brand { readonly Base64: unique symbol }
/** Bytes as standard padded base64 (sealed keys and tokens: small). */
export const Base64 = t.brand(t.string, (s): s is t.Branded<string, Base64Brand> => BASE64_PATTERN.test(s), 'Base64');
/** Standard padded base64, 4..256 characters. */
export type Base64 = t.TypeOf<typeof Base64>;
