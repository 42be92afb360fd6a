/**
 * Outbound requests an admin can aim (webhooks, connections made at run time): the address policy
 * (`webhooks.block_private_addresses`, `outbound.allow_private`) and the fetch and sockets that apply it on
 * the address actually connected to. Configuration-file connectors, which the operator wrote, use the plain
 * fetch.
 */
export { BlockedAddressError, OutboundPolicy, UnresolvableHostError, bareHost, isBlockedAddress, parseAllowEntry, type OutboundPolicyOptions, type Resolver } from './addresses.ts';
export { DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_OUTBOUND_TIMEOUT_MS, ResponseTooLargeError, guardedFetch, guardedSockets, type GuardedFetchOptions, type SocketFactories } from './outbound.ts';
