export { UserRepository, type User } from './users.ts';
export { hashPassword, verifyPassword, burnPasswordCheck, isSupportedHash } from './passwords.ts';
export { ProjectRepository, ProjectError, type Project } from './projects.ts';
export { ROLES, ROLE_SCOPES, isRole, type Role } from './roles.ts';
