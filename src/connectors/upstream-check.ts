import type { Logger } from 'pino';
import type { AuditLog } from '../audit/index.ts';
import { ConnectorError } from '../domain/index.ts';
import type { GroupRoles, UpstreamSessions } from '../directory/index.ts';
import { canRefresh, type Connector } from './types.ts';

type UpstreamCheck = 'ok' | 'gone' | 'unavailable';

/** What the check needs of the connections (src/connectors/connections.ts ConnectionSet fits it). */
interface UpstreamConnections {
  /** Enabled connectors by id. */
  readonly connectors: ReadonlyMap<string, Connector>;
  readonly configs: ReadonlyMap<string, { check_upstream_on_refresh: boolean }>;
  /** The upstream (issuer) a connection points at now. */
  upstreamOf(connectorId: string): string;
  /** Whether links made before issuers were recorded still belong to the connection's current upstream. */
  legacyLinksTrusted(connectorId: string, issuer: string): Promise<boolean>;
  /** The group-mapping source of a connection's identities. */
  sourceOf(connectorId: string): string;
}

interface UpstreamSessionCheckDeps {
  sessions: UpstreamSessions;
  connections: UpstreamConnections;
  groupRoles: Pick<GroupRoles, 'applyIdentity'>;
  audit: Pick<AuditLog, 'record'>;
  logger: Logger;
  /** How long a refreshed upstream session is kept: as long as our refresh tokens live. */
  sessionTtlSeconds: number;
}

/**
 * The decision at our refresh_token grant (`check_upstream_on_refresh`): ask the upstream identity provider,
 * with the refresh token it gave, whether the account still exists. 'ok' when it does (its groups are
 * applied again, its rotated refresh token kept) or when nothing is to be checked; 'gone' when the upstream
 * refuses (the session is forgotten and the refusal audited): the refresh is refused; 'unavailable' when
 * the upstream could not be asked: the refresh answers 503 rather than guessing.
 */
export class UpstreamSessionCheck {
  private readonly deps: UpstreamSessionCheckDeps;
  constructor(deps: UpstreamSessionCheckDeps) {
    this.deps = deps;
  }

  async check(userId: string): Promise<UpstreamCheck> {
    const { sessions, connections, groupRoles, logger } = this.deps;
    const session = await sessions.load(userId).catch(() => undefined);
    if (!session) return 'ok';
    const connector = connections.connectors.get(session.identity.connector_id);
    if (!connector || !connections.configs.get(connector.id)?.check_upstream_on_refresh || !canRefresh(connector)) return 'ok';
    // A session saved before issuers were recorded was made through the connection as it was then: it is
    // checked with the current upstream only while the connection still points there.
    let known = session.identity;
    if (!known.issuer) {
      // For the connectors that refresh (generic OIDC) the issuer is the configured one.
      const issuer = connections.upstreamOf(connector.id);
      if (!(await connections.legacyLinksTrusted(connector.id, issuer))) return this.gone(userId, connector.id, 'access_denied');
      known = { ...known, issuer };
    }
    try {
      const identity = await connector.refresh({ identity: known, refreshToken: session.refresh_token });
      const rotated = identity.upstream?.refresh_token ?? session.refresh_token;
      await sessions.save(userId, identity, rotated, this.deps.sessionTtlSeconds);
      await groupRoles.applyIdentity(userId, identity, connections.sourceOf(connector.id));
      return 'ok';
    } catch (error) {
      if (error instanceof ConnectorError && (error.code === 'access_denied' || error.code === 'invalid_token')) {
        return this.gone(userId, connector.id, error.code);
      }
      logger.warn({ connector: connector.id, err: String(error) }, 'upstream refresh check failed');
      return 'unavailable';
    }
  }

  private async gone(userId: string, connectorId: string, reason: string): Promise<'gone'> {
    await this.deps.sessions.forget(userId);
    await this.deps.audit.record({ actor: { type: 'system', id: connectorId }, action: 'session.upstream_revoked', target: { type: 'user', id: userId }, project_id: null, ip: null, outcome: 'failure', detail: { connector: connectorId, reason } });
    return 'gone';
  }
}
