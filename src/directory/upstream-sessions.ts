import type { Store, SecretBox, SealedSecret } from '../store/index.ts';
import type { Identity } from '../domain/index.ts';

/**
 * Upstream sessions: the refresh token an upstream identity provider gave at a person's last federated
 * sign-in, sealed (AES-256-GCM), so our refresh can re-check with the upstream that the account still
 * exists (`check_upstream_on_refresh`). Layout: upstream:{userId} → { connector_id, token: SealedSecret }.
 */
const key = (userId: string) => `upstream:{${userId}}`;

export class UpstreamSessions {
  private readonly store: Store;
  private readonly box: SecretBox;
  constructor(store: Store, box: SecretBox) {
    this.store = store;
    this.box = box;
  }

  /** Keeps the identity (without its upstream tokens) and its refresh token, sealed. */
  async save(userId: string, identity: Identity, refreshToken: string, ttlSeconds: number): Promise<void> {
    const { upstream: _tokens, ...plain } = identity;
    const token = await this.box.seal(refreshToken, `upstream:${userId}:${identity.connector_id}`);
    await this.store.put(key(userId), { connector_id: identity.connector_id, identity: plain, token, saved_at: new Date().toISOString() }, ttlSeconds);
  }

  async load(userId: string): Promise<{ identity: Identity; refresh_token: string } | undefined> {
    const record = await this.store.get<{ connector_id: string; identity: Identity; token: SealedSecret }>(key(userId));
    if (!record) return undefined;
    return { identity: record.identity, refresh_token: await this.box.open(record.token, `upstream:${userId}:${record.connector_id}`) };
  }

  async forget(userId: string): Promise<void> {
    await this.store.delete(key(userId));
  }
}
