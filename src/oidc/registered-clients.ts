import { createHash } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { ClientMetadata } from 'oidc-provider';
import { secretMatches, type ClientRecord, type StoredSecret } from '../clients/index.ts';

/**
 * OAuth clients registered at run time (src/clients), served to oidc-provider.
 *
 * Lookup: oidc-provider finds a client that is not static through its adapter's `Client` model
 * (`Client.find` → `adapter.find(id)` → metadata), on every request. Its own cache (`dynamicClients`) is
 * keyed by a hash of the metadata returned, never by id alone, so a deleted client (find answers nothing)
 * stops authenticating at once on every node, and a rotated secret or a changed redirect URI is seen by
 * the next request.
 *
 * Secrets: oidc-provider compares `client_secret_basic`/`_post` secrets in one place,
 * `Client.prototype.compareClientSecret(actual)` (lib/shared/client_auth.js), against `this.clientSecret`
 * in clear. We store only SHA-256 hashes, so that one method is replaced (below) for registered clients:
 * it hashes the presented secret and compares it in constant time with every live stored hash (the
 * current one, and a rotated-out one within its grace), honouring each hash's end. Nothing else of client
 * authentication changes: the auth method checks, the error answers and every endpoint stay the
 * provider's. The `client_secret` metadata the schema requires is a value derived from the hash that is
 * never accepted as a secret: no HMAC algorithm is enabled for these clients, and compareClientSecret
 * never looks at it.
 */
export const REGISTERED_CLIENT_PROPERTIES = ['project_id', 'secret_hashes'] as const;

type SecretEnds = Array<Pick<StoredSecret, 'sha256' | 'expires_at' | 'grace_until'>>;

export function registeredClientMetadata(record: ClientRecord): ClientMetadata {
  const codeFlow = record.grant_types.includes('authorization_code');
  const confidential = record.type === 'confidential';
  const hashes: SecretEnds = record.secrets.map(({ sha256, expires_at, grace_until }) => ({ sha256, expires_at, grace_until }));
  return {
    client_id: record.client_id,
    client_name: record.name,
    token_endpoint_auth_method: confidential ? 'client_secret_basic' : 'none',
    ...(confidential ? { client_secret: `unusable-${createHash('sha256').update(`logtrace-client-secret-placeholder:${record.secrets[0]?.sha256 ?? ''}`).digest('base64url')}` } : {}),
    grant_types: record.grant_types,
    response_types: codeFlow ? ['code'] : [],
    redirect_uris: codeFlow ? record.redirect_uris : [],
    post_logout_redirect_uris: codeFlow ? record.post_logout_redirect_uris : [],
    scope: record.scopes.join(' '),
    first_party: record.first_party,
    project_id: record.project_id,
    secret_hashes: hashes,
  } as ClientMetadata;
}

/** Replaces compareClientSecret for clients carrying `secret_hashes` (see above); static clients keep the provider's own. */
export function installHashedSecretCheck(provider: Provider): void {
  const prototype = provider.Client.prototype as { compareClientSecret(this: { secret_hashes?: unknown }, actual: string): boolean | Promise<boolean> };
  const original = prototype.compareClientSecret;
  prototype.compareClientSecret = function compareClientSecret(actual: string) {
    if (!Array.isArray(this.secret_hashes)) return original.call(this, actual);
    return typeof actual === 'string' && secretMatches(this.secret_hashes as SecretEnds, actual);
  };
}

/** The project a registered client belongs to, from the provider's Client object. */
export function projectOfClient(client: unknown): string | undefined {
  const projectId = (client as { project_id?: unknown } | undefined)?.project_id;
  return typeof projectId === 'string' ? projectId : undefined;
}
