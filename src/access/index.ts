export { AccessPolicy, AccessDenied, CONNECTION_ADMIN_FIELDS, type Principal, type Actor, type UserFacts, type AuditView, type ScimResourceFacts, type ScimClaimFacts } from './policy.ts';
