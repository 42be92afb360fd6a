import type { AuditLog } from '../audit/index.ts';
import type { AccessPolicy } from '../access/index.ts';
import type { KeyRepository } from './repository.ts';

/** One RFC 8693 exchange attempt of an API key for an access token, as the token endpoint reports it. */
interface KeyExchangeEvent {
  ok: boolean;
  key_id: string | null;
  project_id: string | null;
  client_ip: string;
  /** Why a key was refused (`expired`, `ip_not_allowed`, …). */
  code?: string;
}

interface KeyExchangeDeps {
  keys: Pick<KeyRepository, 'verify'>;
  access: Pick<AccessPolicy, 'exchangeScopes'>;
  audit: Pick<AuditLog, 'record'>;
}

/**
 * The keys' side of the exchange (src/oidc/token-exchange.ts runs the grant): the key is verified as
 * POST /v1/keys/verify verifies it (from the caller's address), the token's scopes are the key's narrowed
 * to those asked for (the access policy's rule), and every attempt, refused ones included, is audited as
 * `key.exchanged`.
 */
export function keyExchange({ keys, access, audit }: KeyExchangeDeps) {
  return {
    verifyApiKey: (key: string, ip: string) => keys.verify(key, { ip }),
    exchangeScopes: (held: readonly string[], asked: readonly string[] | undefined) => access.exchangeScopes(held, asked),
    async onExchange(event: KeyExchangeEvent): Promise<void> {
      await audit.record({
        actor: { type: event.key_id ? 'api_key' : 'anonymous', id: event.key_id },
        action: 'key.exchanged',
        target: { type: 'api_key', id: event.key_id },
        project_id: event.project_id,
        ip: event.client_ip,
        outcome: event.ok ? 'success' : 'failure',
        ...(event.code ? { detail: { code: event.code } } : {}),
      });
    },
  };
}
