import type { Store } from '../store/index.ts';
import type { Actor } from '../domain/index.ts';

/**
 * OAuth clients registered at run time (src/clients). The only code that knows their store keys.
 *
 * Layout (after the store's own prefix), one hash tag per entity so every write is one Redis Cluster slot:
 *   client:{id}                 the client record (secret hashes only, never a secret)
 *   client:project:{projectId}  ids of the project's clients
 *   client:grants:{id}          ids of the oidc-provider grants made for the client (revoked on delete)
 *   client:last-token:{id}      { at } the last time the client got a token
 *   client:watch:{all}          ids of clients whose secrets expire (the expiry watcher's list)
 *   client:watcher:{lock}       one watcher pass at a time across nodes
 *   client:lock:{id}            one change of a client at a time (rotate, update, delete), across nodes
 */
export const CLIENT_TYPES = ['confidential', 'public'] as const;
export type ClientType = (typeof CLIENT_TYPES)[number];
export const CLIENT_GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
export type ClientGrantType = (typeof CLIENT_GRANT_TYPES)[number];

/** One secret of a client, as stored: its SHA-256 (hex) and until when it authenticates. */
export interface StoredSecret {
  [key: string]: unknown;
  sha256: string;
  created_at: string;
  /** The secret's own end (secret_ttl_days), or null. */
  expires_at: string | null;
  /** Set on a rotated-out secret: it authenticates until then. */
  grace_until: string | null;
}

export interface ClientRecord {
  [key: string]: unknown;
  client_id: string;
  project_id: string;
  name: string;
  type: ClientType;
  grant_types: ClientGrantType[];
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  scopes: string[];
  first_party: boolean;
  created_at: string;
  created_by: Actor;
  updated_at: string;
  secret_ttl_days: number | null;
  /** The current secret first, then a rotated-out one still within its grace. Empty for public clients. */
  secrets: StoredSecret[];
}

const recordKey = (id: string) => `client:{${id}}`;
const projectIndex = (projectId: string) => `client:project:{${projectId}}`;
const grantIndex = (id: string) => `client:grants:{${id}}`;
const lastTokenKey = (id: string) => `client:last-token:{${id}}`;
const WATCH = 'client:watch:{all}';
const WATCHER_LOCK = 'client:watcher:{lock}';
const changeLock = (id: string) => `client:lock:{${id}}`;
/** Longer than any change takes; a crashed holder frees it by expiry. */
const CHANGE_LOCK_SECONDS = 10;

/** Grants live at most a year (src/oidc/provider.ts ttl.Grant); their index a little longer. */
const GRANT_INDEX_TTL = 400 * 86_400;

export class ClientRepository {
  private readonly store: Store;

  constructor(store: Store) {
    this.store = store;
  }

  async get(id: string): Promise<ClientRecord | undefined> {
    // Ids are short; a long one was never issued (and would be refused by the store as a key).
    if (id.length > 128) return undefined;
    return this.store.get<ClientRecord>(recordKey(id));
  }

  /** A new client: the project index first, so a listing never misses a client that authenticates. */
  async create(record: ClientRecord): Promise<boolean> {
    await this.store.sadd(projectIndex(record.project_id), [record.client_id]);
    const created = await this.store.putIfAbsent(recordKey(record.client_id), record);
    if (created && record.secrets.some((s) => s.expires_at)) await this.store.sadd(WATCH, [record.client_id]);
    return created;
  }

  async save(record: ClientRecord): Promise<void> {
    await this.store.put(recordKey(record.client_id), record);
    if (record.secrets.some((s) => s.expires_at)) await this.store.sadd(WATCH, [record.client_id]);
  }

  /** Deletes the record first: from then on no node finds the client, whatever fails after. */
  async delete(record: ClientRecord): Promise<void> {
    await this.store.delete(recordKey(record.client_id));
    await this.store.srem(projectIndex(record.project_id), [record.client_id]);
    await this.store.srem(WATCH, [record.client_id]);
    await this.store.delete(lastTokenKey(record.client_id));
  }

  async listByProject(projectId: string): Promise<ClientRecord[]> {
    const ids = await this.store.smembers(projectIndex(projectId));
    const records = await Promise.all(ids.map((id) => this.get(id)));
    return records.filter((r): r is ClientRecord => r !== undefined).sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  async addGrant(clientId: string, grantId: string): Promise<void> {
    await this.store.sadd(grantIndex(clientId), [grantId], GRANT_INDEX_TTL);
  }

  async grants(clientId: string): Promise<string[]> {
    return this.store.smembers(grantIndex(clientId));
  }

  async forgetGrants(clientId: string): Promise<void> {
    await this.store.delete(grantIndex(clientId));
  }

  async setLastToken(clientId: string, at: string): Promise<void> {
    await this.store.put(lastTokenKey(clientId), { at });
  }

  async lastToken(clientId: string): Promise<string | null> {
    return (await this.store.get<{ at: string }>(lastTokenKey(clientId)))?.at ?? null;
  }

  async watched(): Promise<string[]> {
    return this.store.smembers(WATCH);
  }

  async unwatch(clientId: string): Promise<void> {
    await this.store.srem(WATCH, [clientId]);
  }

  /**
   * One change of a client at a time: two rotations racing would each keep the secret as it was before
   * both, losing one new secret; a rotation racing a delete would write the deleted client back.
   */
  async lockChange(clientId: string): Promise<boolean> {
    return this.store.putIfAbsent(changeLock(clientId), { at: new Date().toISOString() }, CHANGE_LOCK_SECONDS);
  }

  async unlockChange(clientId: string): Promise<void> {
    await this.store.delete(changeLock(clientId));
  }

  /** One watcher pass at a time across nodes. */
  async lockWatcher(seconds: number): Promise<boolean> {
    return this.store.putIfAbsent(WATCHER_LOCK, { pid: process.pid, at: new Date().toISOString() }, Math.max(1, seconds));
  }
}
