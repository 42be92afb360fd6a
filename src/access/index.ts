export { AccessPolicy, AccessDenied, CONNECTION_ADMIN_FIELDS, type Principal, type Actor, type UserFacts, type AuditView } from './policy.ts';
