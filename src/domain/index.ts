export { DomainError, isDomainError, type DomainErrorCode } from './errors.ts';
export type { Actor, Principal, Caller } from './principal.ts';
export { ConnectorError, type Identity } from './identity.ts';
export { PeriodicJob } from './periodic.ts';
