export { DomainError, DOMAIN_ERROR_CODES, isDomainError, type DomainErrorCode } from './errors.ts';
export type { Actor, Principal, Caller } from './principal.ts';
export { ConnectorError, type ConnectorErrorCode, type Identity } from './identity.ts';
export { PeriodicJob } from './periodic.ts';
