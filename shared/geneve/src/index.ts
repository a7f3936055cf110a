/**
 * @vnet/geneve: the wire format of vnet's data plane. Pure: no I/O, only Uint8Array.
 * The wire-format changelog is in this library's README.md.
 */
export {
  DECODE_REASONS,
  fail,
  newReasonCounters,
  ok,
  type Decoded,
  type DecodeReason,
  type Fail,
  type GeneveReason,
  type Ipv4Reason,
  type Ok,
  type ReasonCounters,
  type TokenReason,
} from './result';
export {
  checkGeneveOptions,
  decodeGeneve,
  encodeGeneve,
  encodeGeneveHeader,
  geneveHeaderLength,
  isCriticalOption,
  GENEVE_BASE_HEADER_LENGTH,
  GENEVE_MAX_OPTION_DATA_LENGTH,
  GENEVE_MAX_OPTIONS_LENGTH,
  GENEVE_UDP_PORT,
  GENEVE_VERSION,
  GENEVE_VNI_MAX,
  OPTION_TYPE_CRITICAL,
  PROTOCOL_TYPE_IPV4,
  type GeneveFrame,
  type GeneveHeaderInit,
  type GeneveOption,
} from './geneve';
export {
  decodeTokenOption,
  encodeTokenOption,
  findTokenOption,
  isTokenOption,
  tokenOptionAt,
  writeTokenOptionData,
  VNET_OPTION_CLASS,
  VNET_TOKEN_EXPIRY_MAX,
  VNET_TOKEN_LENGTH,
  VNET_TOKEN_OPTION_DATA_LENGTH,
  VNET_TOKEN_OPTION_TYPE,
  type TokenOption,
} from './token';
export {
  checkIpv4Header,
  internetChecksum,
  ipv4DstAt,
  ipv4FromString,
  ipv4SrcAt,
  ipv4ToString,
  parseIpv4Header,
  IP_PROTOCOL,
  IPV4_MIN_HEADER_LENGTH,
  type Ipv4Packet,
} from './ipv4';
export {
  decodeVnetFrame,
  encodeVnetFrame,
  encodeVnetHeader,
  newVnetFrameInfo,
  scanVnetFrame,
  VNET_HEADER_LENGTH,
  type VnetFrame,
  type VnetFrameInfo,
} from './frame';
