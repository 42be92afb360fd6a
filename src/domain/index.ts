export { DomainError, DOMAIN_ERROR_CODES, isDomainError, type DomainErrorCode } from './errors.ts';
