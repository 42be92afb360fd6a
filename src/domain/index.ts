export { DomainError, DOMAIN_ERROR_CODES, isDomainError, type DomainErrorCode } from './errors.ts';
export type { Actor, Principal, Caller } from './principal.ts';
