import { randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Store } from '../store/index.ts';

/**
 * Signing keys and cookie keys, generated on first start and kept in the store so every node and every
 * restart signs with the same keys. Never logged.
 *
 * Rotation (operator command `signing-keys rotate`) puts a new key first (the one that signs) and keeps
 * the previous ones published in the JWKS until `retire_at`: the longest lifetime of a token they signed.
 */
export type SigningAlg = 'ES256' | 'EdDSA' | 'RS256';

export interface StoredSigningKey {
  kid: string;
  alg: SigningAlg;
  created_at: string;
  /** ISO time after which the key is no longer published; absent while it may still sign. */
  retire_at?: string;
  jwk: JWK;
}

export interface KeySet {
  [key: string]: unknown;
  version: number;
  keys: StoredSigningKey[];
  cookie_keys: string[];
}

const KEYSET_KEY = 'keys:{signing}';

async function generateSigningKey(alg: SigningAlg): Promise<StoredSigningKey> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
  return { kid, alg, created_at: new Date().toISOString(), jwk };
}

function signingAlgs(primary: SigningAlg, additional: SigningAlg[]): SigningAlg[] {
  return [primary, ...additional.filter((alg) => alg !== primary)];
}

/** Loads the key set, creating it when absent (the first node to start wins; the others read its keys). */
export async function ensureKeySet(store: Store, primary: SigningAlg, additional: SigningAlg[]): Promise<KeySet> {
  const existing = await store.get<KeySet>(KEYSET_KEY);
  if (existing && signingAlgs(primary, additional).every((alg) => existing.keys.some((k) => k.alg === alg && !k.retire_at))) {
    return existing;
  }
  if (existing) {
    // A configured algorithm has no active key yet (configuration changed): add one, keep the rest.
    const missing = signingAlgs(primary, additional).filter((alg) => !existing.keys.some((k) => k.alg === alg && !k.retire_at));
    const added = await Promise.all(missing.map(generateSigningKey));
    const next: KeySet = { ...existing, version: existing.version + 1, keys: [...existing.keys, ...added] };
    await store.put(KEYSET_KEY, next);
    return next;
  }
  const created: KeySet = {
    version: 1,
    keys: await Promise.all(signingAlgs(primary, additional).map(generateSigningKey)),
    cookie_keys: [randomBytes(32).toString('base64url')],
  };
  if (await store.putIfAbsent(KEYSET_KEY, created)) return created;
  const winner = await store.get<KeySet>(KEYSET_KEY);
  if (!winner) throw new Error('signing key set vanished while it was being created');
  return winner;
}

export async function readKeySet(store: Store): Promise<KeySet | undefined> {
  return store.get<KeySet>(KEYSET_KEY);
}

/**
 * Adds a new key of `alg` in front; the previous active key of that algorithm retires after
 * `retireAfterSeconds` (the longest lifetime of anything it signed). Expired retired keys are dropped.
 */
export async function rotateSigningKey(store: Store, alg: SigningAlg, retireAfterSeconds: number): Promise<{ added: StoredSigningKey; retired: StoredSigningKey[] }> {
  const current = await store.get<KeySet>(KEYSET_KEY);
  if (!current) throw new Error('no signing keys yet: start the server once, or run with the same store configuration');
  const added = await generateSigningKey(alg);
  const retireAt = new Date(Date.now() + retireAfterSeconds * 1000).toISOString();
  const now = Date.now();
  const retired: StoredSigningKey[] = [];
  const kept = current.keys
    .filter((k) => !k.retire_at || Date.parse(k.retire_at) > now)
    .map((k) => {
      if (k.alg === alg && !k.retire_at) {
        const r = { ...k, retire_at: retireAt };
        retired.push(r);
        return r;
      }
      return k;
    });
  await store.put(KEYSET_KEY, { ...current, version: current.version + 1, keys: [added, ...kept] });
  return { added, retired };
}

/**
 * The private JWKS handed to oidc-provider: active keys first (the first key of an algorithm signs),
 * then retired keys still within their publication window (verification only, via /jwks).
 */
export function providerJwks(keySet: KeySet, primary: SigningAlg): { keys: JWK[] } {
  const now = Date.now();
  const live = keySet.keys.filter((k) => !k.retire_at || Date.parse(k.retire_at) > now);
  const active = live.filter((k) => !k.retire_at).sort((a, b) => Number(b.alg === primary) - Number(a.alg === primary));
  const retired = live.filter((k) => k.retire_at);
  return { keys: [...active, ...retired].map((k) => k.jwk) };
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** The published (public) half of every key still in its publication window. */
export function publicJwks(keySet: KeySet): { keys: JWK[] } {
  const now = Date.now();
  return {
    keys: keySet.keys
      .filter((k) => !k.retire_at || Date.parse(k.retire_at) > now)
      .map((k) => {
        const jwk: JWK = { ...k.jwk };
        for (const member of PRIVATE_MEMBERS) delete (jwk as Record<string, unknown>)[member];
        return jwk;
      }),
  };
}
