import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { StoredSecret } from './repository.ts';

/**
 * Client secrets: `lts_` + 43 base64url characters (256 random bits), recognisable by secret scanners.
 * Stored as SHA-256 only: a machine secret this long gains nothing from a slow hash (as for API keys,
 * src/keys/format.ts), and the token endpoint's hot path stays one hash.
 */
const SECRET_PREFIX = 'lts_';
export const CLIENT_ID_PREFIX = 'ltc_';

export function generateClientSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64url');
}

export function generateClientId(): string {
  return CLIENT_ID_PREFIX + randomBytes(16).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** The moment a stored secret stops authenticating (the earlier of its expiry and its grace end), or null. */
export function secretEnd(secret: Pick<StoredSecret, 'expires_at' | 'grace_until'>): number | null {
  const ends = [secret.expires_at, secret.grace_until].filter((t): t is string => !!t).map((t) => Date.parse(t));
  return ends.length ? Math.min(...ends) : null;
}

/**
 * Whether `presented` is one of the live secrets. Every stored hash is compared (no early exit) in
 * constant time: the answer time says nothing about which, or how much, matched.
 */
export function secretMatches(secrets: ReadonlyArray<Pick<StoredSecret, 'sha256' | 'expires_at' | 'grace_until'>>, presented: string, now = Date.now()): boolean {
  const actual = Buffer.from(hashSecret(presented), 'hex');
  let match = false;
  for (const secret of secrets) {
    const stored = Buffer.from(secret.sha256, 'hex');
    const equal = stored.length === actual.length && timingSafeEqual(stored, actual);
    const end = secretEnd(secret);
    const live = end === null || end > now;
    match = (equal && live) || match;
  }
  return match;
}
