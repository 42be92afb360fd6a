/**
 * Outbound requests an admin can aim (webhooks, connections made at run time): the address policy
 * (`webhooks.block_private_addresses`, `outbound.allow_private`) and the fetch and sockets that apply it on
 * the address actually connected to. Configuration-file connectors, which the operator wrote, use the plain
 * fetch.
 */
export { BlockedAddressError, OutboundPolicy, UnresolvableHostError, isBlockedAddress, parseAllowEntry, type Resolver } from './addresses.ts';
export { ResponseTooLargeError, guardedFetch, guardedSockets, type SocketFactories } from './outbound.ts';
