import { errors as joseErrors, importJWK, jwtVerify, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { fetchJson, type CachedDocument, type CachePolicy, type FetchLike } from './http.ts';

/**
 * Access-token verification against the issuer's published keys, offline after the first fetch:
 * - discovery and the JWKS are fetched once and kept for their Cache-Control max-age (revalidated with
 *   their ETag), so a key rotation reaches the verifier as fast as the server allows and no faster;
 * - a token whose `kid` the cached JWKS does not know makes at most one refetch per `unknownKidCooldownMs`
 *   (a flood of made-up kids costs a few fetches, not one each);
 * - algorithms: the asymmetric ones discovery announces (never `none`, never HMAC: the JWKS is public);
 * - `typ: at+jwt` (RFC 9068 §2.1), `iss`, `aud`, `exp` (required) and `nbf` with a small clock tolerance.
 */
const ASYMMETRIC = new Set(['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']);
const DEFAULT_ALGORITHMS = ['ES256', 'EdDSA', 'RS256'];

export interface JwtOptions {
  issuer: string;
  audience: string;
  fetch: FetchLike;
  clockToleranceSeconds: number;
  unknownKidCooldownMs: number;
  cache: CachePolicy;
  timeoutMs: number;
}

interface Discovery {
  issuer: string;
  jwks_uri: string;
  algorithms: string[];
}


/** A refusal decided before jose verifies the signature (no kid, an unknown kid, an algorithm not allowed). */
class Refusal extends Error {
  override readonly name = 'Refusal';
}

export type JwtFailure = { code: 'invalid_token' | 'token_expired'; message: string } | { code: 'unavailable'; message: string; cause: unknown };

export class JwtVerifier {
  private readonly options: JwtOptions;
  private discovery: CachedDocument<Discovery> | undefined;
  /** The JWKS document as fetched, and its keys imported once (not per token). */
  private jwks: CachedDocument<unknown> | undefined;
  private keys = new Map<string, CryptoKey>();
  private refreshing: Promise<void> | undefined;
  private lastUnknownKidFetch = -Infinity;
  readonly stats = { discoveryFetches: 0, jwksFetches: 0, unknownKidRefetches: 0 };

  constructor(options: JwtOptions) {
    this.options = options;
  }

  /** Fetches discovery and the JWKS now (start-up), so the first request does not wait. */
  async warm(): Promise<void> {
    await this.refresh(false);
  }

  async verify(token: string): Promise<{ ok: true; payload: JWTPayload } | { ok: false; failure: JwtFailure }> {
    try {
      const now = Date.now();
      if (!this.jwks || !this.discovery || now >= this.jwks.expiresAt || now >= this.discovery.expiresAt) await this.refresh(false);
      // jose parses the header once and hands it here: the key is chosen by kid, the algorithm checked
      // against discovery's before any signature work.
      const { payload } = await jwtVerify(token, this.keyFor, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        typ: 'at+jwt',
        algorithms: this.discovery!.value.algorithms,
        clockTolerance: this.options.clockToleranceSeconds,
        requiredClaims: ['exp'],
      });
      return { ok: true, payload };
    } catch (err) {
      if (err instanceof Refusal) return { ok: false, failure: { code: 'invalid_token', message: err.message } };
      if (err instanceof joseErrors.JWTExpired) return { ok: false, failure: { code: 'token_expired', message: 'the access token has expired' } };
      if (err instanceof joseErrors.JOSEError) return { ok: false, failure: { code: 'invalid_token', message: `the access token is not valid: ${describe(err)}` } };
      return { ok: false, failure: { code: 'unavailable', message: 'the issuer’s signing keys could not be fetched', cause: err } };
    }
  }

  private readonly keyFor = async (header: { kid?: string | undefined; alg?: string | undefined }): Promise<CryptoKey> => {
    const { kid, alg } = header;
    if (typeof kid !== 'string' || !kid) throw new Refusal('the access token names no signing key (kid)');
    if (typeof alg !== 'string' || !this.discovery!.value.algorithms.includes(alg)) throw new Refusal(`the access token's algorithm ${String(alg)} is not allowed`);
    let key = this.keys.get(kid);
    const now = Date.now();
    if (!key && now - this.lastUnknownKidFetch >= this.options.unknownKidCooldownMs) {
      this.lastUnknownKidFetch = now;
      this.stats.unknownKidRefetches++;
      await this.refresh(true);
      key = this.keys.get(kid);
    }
    if (!key) throw new Refusal('the access token is signed with a key the issuer does not publish');
    return key;
  };

  /** One refresh at a time: concurrent callers share it. `force` refetches a JWKS that is still fresh. */
  private refresh(force: boolean): Promise<void> {
    this.refreshing ??= this.doRefresh(force).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async doRefresh(force: boolean): Promise<void> {
    const now = Date.now();
    const { fetch: fetchImpl, cache, timeoutMs, issuer } = this.options;
    try {
      if (!this.discovery || now >= this.discovery.expiresAt) {
        this.stats.discoveryFetches++;
        this.discovery = await fetchJson(fetchImpl, `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, { previous: this.discovery, policy: cache, timeoutMs, parse: (body) => parseDiscovery(body, issuer) });
      }
      if (force || !this.jwks || now >= this.jwks.expiresAt) {
        this.stats.jwksFetches++;
        const previous = this.jwks;
        const fetched = await fetchJson<unknown>(fetchImpl, this.discovery.value.jwks_uri, { previous, policy: cache, timeoutMs, parse: (body) => body });
        // A 304 keeps the imported keys; a new document is imported once, here.
        if (fetched.value !== previous?.value) this.keys = await importKeys(fetched.value, this.discovery.value.algorithms);
        this.jwks = fetched;
      }
    } catch (err) {
      // The keys held are kept and used (an outage of the issuer does not reject valid tokens); a retry
      // is allowed in a few seconds rather than on every request.
      if (this.jwks) this.jwks = { ...this.jwks, expiresAt: Date.now() + Math.min(5000, cache.defaultTtlMs) };
      if (this.discovery) this.discovery = { ...this.discovery, expiresAt: Math.max(this.discovery.expiresAt, Date.now() + Math.min(5000, cache.defaultTtlMs)) };
      if (!this.jwks || !this.discovery) throw err;
    }
  }
}

function parseDiscovery(body: unknown, issuer: string): Discovery {
  const doc = (body ?? {}) as Record<string, unknown>;
  if (doc.issuer !== issuer) throw new Error(`discovery names issuer ${String(doc.issuer)}, expected ${issuer}`);
  if (typeof doc.jwks_uri !== 'string' || !/^https?:\/\//.test(doc.jwks_uri)) throw new Error('discovery has no jwks_uri');
  const announced = Array.isArray(doc.id_token_signing_alg_values_supported) ? doc.id_token_signing_alg_values_supported.filter((a): a is string => typeof a === 'string' && ASYMMETRIC.has(a)) : [];
  return { issuer, jwks_uri: doc.jwks_uri, algorithms: announced.length ? announced : DEFAULT_ALGORITHMS };
}

/** Public signing keys with a kid, imported once; keys of other uses or algorithms are skipped. */
async function importKeys(body: unknown, algorithms: string[]): Promise<Map<string, CryptoKey>> {
  const list = Array.isArray((body as { keys?: unknown } | null)?.keys) ? ((body as { keys: unknown[] }).keys as JWK[]) : undefined;
  if (!list) throw new Error('the JWKS has no keys array');
  const keys = new Map<string, CryptoKey>();
  for (const jwk of list) {
    if (typeof jwk !== 'object' || jwk === null || typeof jwk.kid !== 'string' || (jwk.use && jwk.use !== 'sig')) continue;
    if ('d' in jwk || jwk.kty === 'oct') continue;
    const alg = jwk.alg ?? (jwk.kty === 'EC' && jwk.crv === 'P-256' ? 'ES256' : jwk.kty === 'OKP' ? 'EdDSA' : undefined);
    if (!alg || !algorithms.includes(alg)) continue;
    try {
      const key = await importJWK({ ...jwk, alg }, alg);
      if (!(key instanceof Uint8Array)) keys.set(jwk.kid, key);
    } catch {
      // A key this runtime cannot import is skipped; tokens it signed are refused as unknown.
    }
  }
  return keys;
}

function describe(err: InstanceType<typeof joseErrors.JOSEError>): string {
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `${err.claim} ${err.reason === 'check_failed' ? 'does not match' : err.reason}`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature';
  return err.code;
}
