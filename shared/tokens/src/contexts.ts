/**
 * The contexts secrets are sealed under (the AEAD's additional data), shared by whoever
 * seals (the token issuer) and whoever opens (host agents): a sealed secret copied into
 * another event, for another VM, host or key id, does not open.
 */

/** A VM's secret key `keyId`, sealed to host `hostId`. */
export const keyContext = (vmId: string, hostId: string, keyId: number): string => `vnet/vm-key/${vmId}/${hostId}/${keyId}`;

/** A pair's token, made with key `keyId`, valid until `expiry`, for the destination host at `dstUnderlay` (the pair id names VNI and addresses): an event that changes any of them does not open. */
export const tokenContext = (pairId: string, keyId: number, expiry: number, dstUnderlay: string): string => `vnet/pair-token/${pairId}/${keyId}/${expiry}/${dstUnderlay}`;
