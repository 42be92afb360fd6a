/** Project roles and their scopes: defined with the verifier library, which reads tokens' roles the same way. */
export { ROLES, ROLE_SCOPES, isRole, type Role } from '../verifier/roles.ts';
