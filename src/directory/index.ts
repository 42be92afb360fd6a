export { UserRepository, type User } from './users.ts';
export { hashPassword, verifyPassword, burnPasswordCheck, isSupportedHash } from './passwords.ts';
