export { AccessPolicy, AccessDenied, type Principal, type Actor } from './policy.ts';
