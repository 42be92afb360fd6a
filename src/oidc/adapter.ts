import type { Adapter, AdapterPayload } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { StoreInputError, StoreUnavailableError, type Store, type BatchOp, type JsonObject } from '../store/index.ts';

/**
 * The bridge between oidc-provider's adapter interface and our Store contract.
 *
 * Layout (after the store's own `lt:` prefix), one hash tag per entity for Redis Cluster:
 *   oidc:{Model}:{id}            the artifact's payload
 *   oidc:grant:{grantId}         keys of every artifact issued under a grant (revokeByGrantId)
 *   oidc:{Model}:uid:{uid}       id of the Session with that uid
 *   oidc:{Model}:userCode:{code} id of the DeviceCode with that user code
 */

const GRANT_BOUND = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

/** oidc-provider renders `expose`d errors as-is: a store outage is a 503 `temporarily_unavailable`, never success. */
export class StoreDownError extends errors.OIDCProviderError {
  constructor(cause: unknown) {
    super(503, 'temporarily_unavailable', { cause });
    this.error_description = 'the authorization server cannot reach its store; try again shortly';
    this.expose = true;
  }
}

async function guard<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw new StoreDownError(err);
    // Input the store refuses is the client's mistake, never a 500 (the id checks below catch it first).
    if (err instanceof StoreInputError) throw new errors.InvalidRequest('a parameter is longer than any value this server issues');
    throw err;
  }
}

/**
 * Every id the provider issues is 43 characters or fewer, and client ids and user codes are short too:
 * a longer value (a 10 KB `client_id`, `code`, `refresh_token`, access token, session cookie) was never
 * stored. It is looked up as absent without a store call, so the provider answers with its own error
 * for an unknown artifact (`invalid_client`, `invalid_grant`, `invalid_token`, `active: false`).
 */
const MAX_ID_LENGTH = 512;
const neverIssued = (id: unknown): boolean => typeof id !== 'string' || id.length > MAX_ID_LENGTH;

interface AdapterOptions {
  /** Seconds during which a rotated refresh token may be presented again (0 = never). */
  refreshTokenReuseInterval: number;
  /**
   * Clients registered at run time (src/oidc/registered-clients.ts): oidc-provider's `Client` model reads
   * them here, on every lookup; each grant made for one is recorded so deleting the client revokes it.
   */
  registeredClients?: {
    find(id: string): Promise<AdapterPayload | undefined>;
    grantSaved(clientId: string, grantId: string): Promise<void>;
  };
}

/** Ends a grant: every artifact issued under it, its index and the grant itself (a deleted client's grants). */
export async function revokeGrant(store: Store, grantId: string): Promise<void> {
  if (neverIssued(grantId)) return;
  await guard(async () => {
    const grantKey = `oidc:grant:{${grantId}}`;
    const keys = await store.smembers(grantKey);
    if (keys.length) await store.delete(...keys);
    await store.delete(grantKey);
    await store.delete(`oidc:Grant:{${grantId}}`);
  });
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

export function createAdapterFactory(store: Store, options: AdapterOptions): new (name: string) => Adapter {
  return class StoreAdapter implements Adapter {
    readonly name: string;

    constructor(name: string) {
      this.name = name;
    }

    private key(id: string): string {
      return `oidc:${this.name}:{${id}}`;
    }

    private static grantKey(grantId: string): string {
      return `oidc:grant:{${grantId}}`;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      await guard(async () => {
        // The client's index of its grants first: deleting the client always reaches this grant.
        if (this.name === 'Grant' && typeof payload.clientId === 'string') await options.registeredClients?.grantSaved(payload.clientId, id);
        const key = this.key(id);
        const ttl = expiresIn > 0 ? expiresIn : undefined;
        // Each write below is one entity (one Redis Cluster slot), in an order that leaves nothing unsafe
        // if a later one fails: the grant index first, so revoking the grant always reaches the token (an
        // index entry for a token never written is harmless); the lookups by user code and uid last, so
        // they never name a token that is not there.
        if (GRANT_BOUND.has(this.name) && payload.grantId) {
          const grantKey = StoreAdapter.grantKey(payload.grantId);
          const grantTtl = await store.ttl(grantKey);
          // The index must outlive every artifact it lists; never shorten it.
          const keepTtl = ttl === undefined ? undefined : Math.max(ttl, grantTtl ?? 0);
          const index: BatchOp[] = [{ op: 'sadd', key: grantKey, members: [key], ttlSeconds: keepTtl }];
          if (keepTtl !== undefined) index.push({ op: 'expire', key: grantKey, ttlSeconds: keepTtl });
          await store.batch(index);
        }
        await store.put(key, payload as JsonObject, ttl);
        if (payload.userCode) await store.put(`oidc:${this.name}:userCode:{${payload.userCode}}`, { id }, ttl);
        if (payload.uid) await store.put(`oidc:${this.name}:uid:{${payload.uid}}`, { id }, ttl);
      });
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (neverIssued(id)) return undefined;
      if (this.name === 'Client') return options.registeredClients ? guard(() => options.registeredClients!.find(id)) : undefined;
      const payload = await guard(() => store.get<AdapterPayload & JsonObject>(this.key(id)));
      if (!payload) return undefined;
      if (
        this.name === 'RefreshToken'
        && typeof payload.consumed === 'number'
        && options.refreshTokenReuseInterval > 0
        && nowSeconds() - payload.consumed < options.refreshTokenReuseInterval
      ) {
        // Within the reuse interval a just-rotated refresh token is still honoured (concurrent refreshes
        // from several tabs); oidc-provider then rotates it again. RFC 9700 §4.14.2 permits this grace.
        const { consumed: _consumed, ...rest } = payload;
        return rest as AdapterPayload;
      }
      return payload;
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      if (neverIssued(userCode)) return undefined;
      const ref = await guard(() => store.get<{ id: string }>(`oidc:${this.name}:userCode:{${userCode}}`));
      return ref ? this.find(ref.id) : undefined;
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      if (neverIssued(uid)) return undefined;
      const ref = await guard(() => store.get<{ id: string }>(`oidc:${this.name}:uid:{${uid}}`));
      return ref ? this.find(ref.id) : undefined;
    }

    async consume(id: string): Promise<void> {
      if (neverIssued(id)) return;
      const outcome = await guard(() => store.consume(this.key(id), 'consumed', nowSeconds()));
      if (outcome.result !== 'already') return;
      if (this.name === 'RefreshToken' && nowSeconds() - outcome.at < options.refreshTokenReuseInterval) return;
      // Two requests raced past oidc-provider's `consumed` check with the same one-time artifact: the
      // loser is a replay. Refuse it and end the grant, as the provider does for a detected reuse.
      const payload = await guard(() => store.get<AdapterPayload & JsonObject>(this.key(id)));
      if (payload?.grantId) await this.revokeByGrantId(payload.grantId);
      throw new errors.InvalidGrant(`${this.name === 'RefreshToken' ? 'refresh token' : 'authorization code'} already used`);
    }

    async destroy(id: string): Promise<void> {
      if (neverIssued(id)) return;
      await guard(() => store.delete(this.key(id)));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      if (neverIssued(grantId)) return;
      await guard(async () => {
        const grantKey = StoreAdapter.grantKey(grantId);
        const keys = await store.smembers(grantKey);
        await store.delete(...keys, grantKey);
      });
    }
  };
}
