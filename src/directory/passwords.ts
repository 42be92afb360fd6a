import argon2 from 'argon2';
import bcrypt from 'bcryptjs';

/**
 * Human passwords: argon2id (RFC 9106 parameters, the argon2 package's defaults: m=64 MiB, t=3, p=4);
 * bcrypt accepted for hashes imported from elsewhere.
 */
export async function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, { type: argon2.argon2id });
}

/** The local password policy (`users add`, invitations): a length range, nothing cleverer (NIST SP 800-63B §5.1.1). */
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 1024;

export function passwordProblem(password: string): 'too_short' | 'too_long' | undefined {
  if (password.length < PASSWORD_MIN_LENGTH) return 'too_short';
  if (password.length > PASSWORD_MAX_LENGTH) return 'too_long';
  return undefined;
}

export function isSupportedHash(hash: string): boolean {
  return hash.startsWith('$argon2id$') || /^\$2[aby]\$/.test(hash);
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    if (hash.startsWith('$argon2')) return await argon2.verify(hash, password);
    if (/^\$2[aby]\$/.test(hash)) return await bcrypt.compare(password, hash);
  } catch {
    return false;
  }
  return false;
}

// Verified against when the account does not exist, so an unknown email costs as much as a wrong password
// (no user enumeration by timing). Computed once, lazily.
let decoy: Promise<string> | undefined;
export async function burnPasswordCheck(password: string): Promise<void> {
  decoy ??= hashPassword('decoy-password-for-timing');
  await verifyPassword(await decoy, password);
}
