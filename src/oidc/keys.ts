import { randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Store, SecretBox, SealedSecret } from '../store/index.ts';

/**
 * Signing keys and cookie keys, generated on first start and kept in the store so every node and every
 * restart signs with the same keys. Never logged.
 *
 * At rest: with LOGTRACE_SECRET_KEY set (a `SecretBox` with a configured key), each private JWK and the
 * cookie keys are sealed (AES-256-GCM, the store key and the key id as additional data), so reading the
 * store is not enough to sign a token or a cookie. Without it they are kept in clear (start-up refuses
 * that on a public issuer unless `allow_development_defaults`, see config/load.ts). A key set stored in
 * clear by an earlier version is sealed the first time a server with LOGTRACE_SECRET_KEY reads it; a
 * sealed key set that cannot be opened (secret missing or different) stops start-up: a new key set is
 * never generated over it.
 *
 * Rotation (operator command `signing-keys rotate`) publishes a new key at once but lets it sign only from
 * `sign_from` (`signing_keys.publish_ahead` later, longer than resource servers may cache the JWKS), so no
 * cached JWKS meets a token signed by a key it has never seen. The previous key signs until then and stays
 * published until `retire_at`: the longest lifetime of a token it signed after that. `--now` (emergency)
 * signs with the new key at once and withdraws the old one at once.
 */
export type SigningAlg = 'ES256' | 'EdDSA' | 'RS256';

interface StoredSigningKey {
  kid: string;
  alg: SigningAlg;
  created_at: string;
  /** ISO time after which the key is no longer published; absent while it may still sign. */
  retire_at?: string;
  /** ISO time from which the key may sign (published before that); absent: since it was created. */
  sign_from?: string;
  jwk: JWK;
}

/** The key set as the server uses it (opened). */
export interface KeySet {
  [key: string]: unknown;
  version: number;
  keys: StoredSigningKey[];
  cookie_keys: string[];
}

/** A key as it is written to the store: the private JWK either in clear (`jwk`) or sealed (`sealed_jwk`). */
interface KeyRecord {
  kid: string;
  alg: SigningAlg;
  created_at: string;
  retire_at?: string;
  sign_from?: string;
  jwk?: JWK;
  sealed_jwk?: SealedSecret;
}

interface KeySetRecord {
  [key: string]: unknown;
  version: number;
  keys: KeyRecord[];
  cookie_keys?: string[];
  sealed_cookie_keys?: SealedSecret;
}

/** Key ids, algorithms and dates: what can be shown without opening anything. */
type KeyMetadata = Omit<StoredSigningKey, 'jwk'>;

const KEYSET_KEY = 'keys:{signing}';

/** Additional data of a sealed part: a sealed value moved to another record or key does not open. */
const jwkAad = (kid: string, alg: string) => `${KEYSET_KEY}/jwk/${kid}/${alg}`;
const COOKIE_KEYS_AAD = `${KEYSET_KEY}/cookie_keys`;

/** The stored key set cannot be used by this process; start-up stops with this message. */
export class KeySetUnavailableError extends Error {
  override readonly name = 'KeySetUnavailableError';
}

async function generateSigningKey(alg: SigningAlg): Promise<StoredSigningKey> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
  return { kid, alg, created_at: new Date().toISOString(), jwk };
}

function signingAlgs(primary: SigningAlg, additional: SigningAlg[]): SigningAlg[] {
  return [primary, ...additional.filter((alg) => alg !== primary)];
}

function metadataOf(k: KeyRecord | StoredSigningKey): KeyMetadata {
  return { kid: k.kid, alg: k.alg, created_at: k.created_at, ...(k.retire_at ? { retire_at: k.retire_at } : {}), ...(k.sign_from ? { sign_from: k.sign_from } : {}) };
}

function isSealed(record: KeySetRecord): boolean {
  return record.keys.every((k) => k.sealed_jwk && !k.jwk) && Boolean(record.sealed_cookie_keys) && !record.cookie_keys;
}

/** The record to write: sealed when `box` holds LOGTRACE_SECRET_KEY, in clear otherwise. */
async function toRecord(keySet: KeySet, box: SecretBox | undefined): Promise<KeySetRecord> {
  if (!box) return { version: keySet.version, keys: keySet.keys, cookie_keys: keySet.cookie_keys };
  return {
    version: keySet.version,
    keys: await Promise.all(keySet.keys.map(async (k) => ({ ...metadataOf(k), sealed_jwk: await box.seal(JSON.stringify(k.jwk), jwkAad(k.kid, k.alg)) }))),
    sealed_cookie_keys: await box.seal(JSON.stringify(keySet.cookie_keys), COOKIE_KEYS_AAD),
  };
}

async function openPart(box: SecretBox | undefined, sealed: SealedSecret, aad: string): Promise<unknown> {
  if (!box) {
    throw new KeySetUnavailableError(
      `the signing and cookie keys in the store (${KEYSET_KEY}) are sealed with LOGTRACE_SECRET_KEY, which is not set: start with the LOGTRACE_SECRET_KEY the other servers use`,
    );
  }
  // Only the configured secret seals key material: a value naming the store's own data key is not ours.
  if (sealed.key !== 'configured') throw new KeySetUnavailableError(`the signing key set in the store (${KEYSET_KEY}) has a part not sealed with LOGTRACE_SECRET_KEY`);
  try {
    return JSON.parse(await box.open(sealed, aad)) as unknown;
  } catch {
    throw new KeySetUnavailableError(
      `the signing and cookie keys in the store (${KEYSET_KEY}) cannot be opened with this LOGTRACE_SECRET_KEY: they were sealed with a different one (or altered). Start with the LOGTRACE_SECRET_KEY that sealed them; a new key set is not generated over them`,
    );
  }
}

async function openRecord(record: KeySetRecord, box: SecretBox | undefined): Promise<KeySet> {
  const keys = await Promise.all(
    record.keys.map(async (k): Promise<StoredSigningKey> => {
      const jwk = k.sealed_jwk ? ((await openPart(box, k.sealed_jwk, jwkAad(k.kid, k.alg))) as JWK) : k.jwk;
      if (!jwk) throw new KeySetUnavailableError(`signing key ${k.kid} in the store (${KEYSET_KEY}) has no key material`);
      return { ...metadataOf(k), jwk };
    }),
  );
  const cookieKeys = record.sealed_cookie_keys ? await openPart(box, record.sealed_cookie_keys, COOKIE_KEYS_AAD) : record.cookie_keys;
  if (!Array.isArray(cookieKeys) || !cookieKeys.every((c) => typeof c === 'string') || cookieKeys.length === 0) {
    throw new KeySetUnavailableError(`the signing key set in the store (${KEYSET_KEY}) has no cookie keys`);
  }
  return { version: record.version, keys, cookie_keys: cookieKeys as string[] };
}

/**
 * Reads and opens the key set. With LOGTRACE_SECRET_KEY set, a key set found (partly) in clear, as an
 * earlier version or a node without the secret wrote it, is sealed in place; its version is kept, so
 * running nodes see no change.
 */
export async function readKeySet(store: Store, box: SecretBox | undefined): Promise<KeySet | undefined> {
  const record = await store.get<KeySetRecord>(KEYSET_KEY);
  if (!record) return undefined;
  const keySet = await openRecord(record, box);
  if (box && !isSealed(record)) await store.put(KEYSET_KEY, await toRecord(keySet, box));
  return keySet;
}

/** The version number alone: lets a running node see a rotation without opening anything. */
export async function keySetVersion(store: Store): Promise<number | undefined> {
  return (await store.get<KeySetRecord>(KEYSET_KEY))?.version;
}

/** Key ids, algorithms and dates, read without LOGTRACE_SECRET_KEY (never the key material). */
export async function listSigningKeys(store: Store): Promise<{ version: number; keys: KeyMetadata[] } | undefined> {
  const record = await store.get<KeySetRecord>(KEYSET_KEY);
  return record ? { version: record.version, keys: record.keys.map(metadataOf) } : undefined;
}

/** Loads the key set, creating it when absent (the first node to start wins; the others read its keys). */
export async function ensureKeySet(store: Store, primary: SigningAlg, additional: SigningAlg[], box: SecretBox | undefined): Promise<KeySet> {
  const existing = await readKeySet(store, box);
  if (existing && signingAlgs(primary, additional).every((alg) => existing.keys.some((k) => k.alg === alg && !k.retire_at))) {
    return existing;
  }
  if (existing) {
    // A configured algorithm has no active key yet (configuration changed): add one, keep the rest.
    const missing = signingAlgs(primary, additional).filter((alg) => !existing.keys.some((k) => k.alg === alg && !k.retire_at));
    const added = await Promise.all(missing.map(generateSigningKey));
    const next: KeySet = { ...existing, version: existing.version + 1, keys: [...existing.keys, ...added] };
    await store.put(KEYSET_KEY, await toRecord(next, box));
    return next;
  }
  const created: KeySet = {
    version: 1,
    keys: await Promise.all(signingAlgs(primary, additional).map(generateSigningKey)),
    cookie_keys: [randomBytes(32).toString('base64url')],
  };
  if (await store.putIfAbsent(KEYSET_KEY, await toRecord(created, box))) return created;
  const winner = await readKeySet(store, box);
  if (!winner) throw new Error('signing key set vanished while it was being created');
  return winner;
}

/**
 * Adds a new key of `alg`, published now and signing from `publishAheadSeconds` later. Every earlier key of
 * that algorithm still in service retires `retireAfterSeconds` (the longest lifetime of anything it signed)
 * after it stops signing; with `publishAheadSeconds` 0 and `withdrawNow` (the `--now` emergency) they leave
 * the JWKS at once. A key that was published ahead but never signed is withdrawn at once. Expired retired
 * keys are dropped.
 */
export async function rotateSigningKey(
  store: Store,
  alg: SigningAlg,
  retireAfterSeconds: number,
  box: SecretBox | undefined,
  options: { publishAheadSeconds?: number; withdrawNow?: boolean } = {},
): Promise<{ added: KeyMetadata; retired: KeyMetadata[] }> {
  const current = await readKeySet(store, box);
  if (!current) throw new Error('no signing keys yet: start the server once, or run with the same store configuration');
  const now = Date.now();
  const generated = await generateSigningKey(alg);
  const signFrom = now + (options.publishAheadSeconds ?? 0) * 1000;
  const added: StoredSigningKey = signFrom > now ? { ...generated, sign_from: new Date(signFrom).toISOString() } : generated;
  const retired: StoredSigningKey[] = [];
  const kept = current.keys
    .filter((k) => !k.retire_at || Date.parse(k.retire_at) > now)
    .map((k) => {
      if (k.alg !== alg || k.retire_at) return k;
      const neverSigned = k.sign_from !== undefined && Date.parse(k.sign_from) > now;
      const retireAt = neverSigned || options.withdrawNow ? now : signFrom + retireAfterSeconds * 1000;
      const r = { ...k, retire_at: new Date(retireAt).toISOString() };
      retired.push(r);
      return r;
    })
    .filter((k) => !k.retire_at || Date.parse(k.retire_at) > now);
  await store.put(KEYSET_KEY, await toRecord({ ...current, version: current.version + 1, keys: [added, ...kept] }, box));
  return { added: metadataOf(added), retired: retired.map(metadataOf) };
}

/**
 * Replaces the cookie keys with a fresh one: every cookie signed before (browser sessions and sign-ins in
 * progress at this server) stops being accepted. For keys that may have been read, e.g. kept in clear
 * before LOGTRACE_SECRET_KEY was set.
 */
export async function rotateCookieKeys(store: Store, box: SecretBox | undefined): Promise<{ version: number }> {
  const current = await readKeySet(store, box);
  if (!current) throw new Error('no keys yet: start the server once, or run with the same store configuration');
  const version = current.version + 1;
  await store.put(KEYSET_KEY, await toRecord({ ...current, version, cookie_keys: [randomBytes(32).toString('base64url')] }, box));
  return { version };
}

/** When a key started (or starts) signing. */
const signingStart = (k: StoredSigningKey): number => Date.parse(k.sign_from ?? k.created_at);

/**
 * The private JWKS handed to oidc-provider, which signs with the first key of each algorithm: per algorithm
 * the key that signs now (the latest whose sign_from has come, primary algorithm first), then every other
 * published key (published ahead, or retired but still within its window: verification only).
 */
export function providerJwks(keySet: KeySet, primary: SigningAlg, now = Date.now()): { keys: JWK[] } {
  const live = keySet.keys.filter((k) => !k.retire_at || Date.parse(k.retire_at) > now);
  const signers = new Map<SigningAlg, StoredSigningKey>();
  for (const k of live) {
    if (signingStart(k) > now) continue;
    const best = signers.get(k.alg);
    if (!best || signingStart(k) > signingStart(best) || (signingStart(k) === signingStart(best) && !k.retire_at && best.retire_at)) signers.set(k.alg, k);
  }
  const active = [...signers.values()].sort((a, b) => Number(b.alg === primary) - Number(a.alg === primary));
  const rest = live.filter((k) => !active.includes(k));
  return { keys: [...active, ...rest].map((k) => k.jwk) };
}

/** The next time the signing or published keys change by the clock alone (a sign_from or retire_at passes). */
export function nextKeyTransition(keySet: KeySet, now = Date.now()): number | undefined {
  const times = keySet.keys.flatMap((k) => [k.sign_from, k.retire_at]).filter((t): t is string => !!t).map(Date.parse).filter((t) => t > now);
  return times.length ? Math.min(...times) : undefined;
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
