export { generateHostKeyPair, KEY_LENGTH, openSealedKey, publicKeyOf, sealKey, UnsealError, type HostKeyPair, type SealedKey } from './sealing';
export { mintToken, TOKEN_LENGTH, tokenInput, tokenMatches, type TokenFields } from './token';
