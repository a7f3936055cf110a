export { generateHostKeyPair, KEY_LENGTH, openSealed, openSealedKey, publicKeyOf, seal, sealKey, UnsealError, type HostKeyPair, type SealedKey } from './sealing';
export { mintToken, TOKEN_LENGTH, tokenInput, tokenMatches, type TokenFields } from './token';
export { keyContext, tokenContext } from './contexts';
export { parseKeyPair } from './keyfile';
