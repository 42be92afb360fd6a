import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Services } from '../container.ts';
import { ConnectionInputError, changedFields, mergePatch, type ConnectionView } from '../connectors/connections.ts';
import { ldapDirectoryOf } from '../connectors/index.ts';
import { BlockedAddressError } from '../net/index.ts';
import { AppError, readJson } from './problem.ts';
import { authMiddleware } from './koa-auth.ts';
import { auditAction, principalOf } from './context.ts';

/** Reading and testing connections: an organisation admin (changes are decided by requireConnectionChange). */
const requireConnectionsAdmin = (ctx: Context, services: Services) => services.access.requireOrgAdmin(principalOf(ctx), 'managing connections');

function connectionError(err: unknown): never {
  if (err instanceof ConnectionInputError) {
    const code = err.code === 'invalid' ? 'invalid_request' : err.code === 'no_secret_key' ? 'conflict' : err.code;
    throw new AppError(code, err.message, { field: err.field });
  }
  throw err;
}

export type Check = { check: string; ok: boolean; detail: string };

/**
 * GET a JSON document with the connection's own fetch: a connection made at run time goes through the
 * outbound address policy (a loopback or private issuer is refused before any request), one from the
 * configuration file does not. Redirects are never followed.
 */
async function fetchJson(services: Services, fetchImpl: typeof fetch, url: string): Promise<{ ok: true; body: Record<string, unknown> } | { ok: false; detail: string }> {
  try {
    const response = await fetchImpl(url, { signal: AbortSignal.timeout(8000), redirect: 'manual', headers: { accept: 'application/json' } });
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel().catch(() => {});
      const location = response.headers.get('location');
      return { ok: false, detail: `${url} answered with a redirect (HTTP ${response.status}${location ? ` to ${location}` : ''}), which is not followed: configure the final URL` };
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      return { ok: false, detail: `${url} answered HTTP ${response.status}` };
    }
    return { ok: true, body: (await response.json()) as Record<string, unknown> };
  } catch (err) {
    services.logger.debug({ url, err: String(err) }, 'connection test fetch failed');
    if (err instanceof BlockedAddressError) return { ok: false, detail: `${url} was not fetched: ${err.message}` };
    const cause = (err as Error).cause;
    const reason = (err as Error).name === 'TimeoutError' ? 'timed out' : cause instanceof Error ? cause.message : (err as Error).message;
    return { ok: false, detail: `${url} is unreachable (${reason})` };
  }
}

/** Discovery and keys of an OpenID provider: reachable, issuer as expected, signing keys published. */
async function discoveryChecks(services: Services, fetchImpl: typeof fetch, discoveryUrl: string, expectIssuer: (issuer: string) => string | null): Promise<Check[]> {
  const checks: Check[] = [];
  const discovery = await fetchJson(services, fetchImpl, discoveryUrl);
  if (!discovery.ok) return [{ check: 'discovery', ok: false, detail: discovery.detail }];
  checks.push({ check: 'discovery', ok: true, detail: `fetched ${discoveryUrl}` });
  const issuer = String(discovery.body.issuer ?? '');
  const mismatch = expectIssuer(issuer);
  checks.push({ check: 'issuer', ok: !mismatch, detail: mismatch ?? `issuer ${issuer}` });
  const jwksUri = typeof discovery.body.jwks_uri === 'string' ? discovery.body.jwks_uri : '';
  if (!jwksUri) return [...checks, { check: 'signing_keys', ok: false, detail: 'discovery has no jwks_uri' }];
  const jwks = await fetchJson(services, fetchImpl, jwksUri);
  const keys = jwks.ok && Array.isArray(jwks.body.keys) ? jwks.body.keys.length : 0;
  checks.push({ check: 'signing_keys', ok: keys > 0, detail: jwks.ok ? `${keys} signing key(s) at ${jwksUri}` : jwks.detail });
  return checks;
}

/**
 * What POST /v1/connections/{id}/test checks (also the dashboard's "Test connection"): discovery or metadata
 * reachable, issuer as expected, signing keys published, the connector running; for LDAP, the server
 * reached, the service account bound, people and their groups found. Changes nothing.
 */
export async function testConnection(services: Services, connection: ConnectionView): Promise<Check[]> {
  if (connection.enabled === false) return [{ check: 'disabled', ok: false, detail: 'the connection is disabled: enable it to test it and to offer it at sign-in' }];
  if (connection.type === 'scim') {
    // A SCIM connection reaches nothing: the directory calls us. What can be wrong is the connector it is tied to.
    const tied = String(connection.connector);
    return services.connectors.has(tied)
      ? [{ check: 'connector', ok: true, detail: `provisioned people sign in with connector ${tied}, which is running` }]
      : [{ check: 'connector', ok: false, detail: `connector ${tied} is not running (missing, disabled or failing): provisioned people cannot sign in` }];
  }
  const checks: Check[] = [];
  const fetchImpl = services.connections.fetchFor(connection.origin);
  if (connection.type === 'oidc') {
    const issuer = String(connection.issuer).replace(/\/$/, '');
    checks.push(...(await discoveryChecks(services, fetchImpl, `${issuer}/.well-known/openid-configuration`, (found) => (found === connection.issuer ? null : `issuer mismatch: discovery says ${found || '(none)'}, configured ${String(connection.issuer)}`))));
  } else if (connection.type === 'entra') {
    const authority = String(connection.authority ?? 'https://login.microsoftonline.com').replace(/\/$/, '');
    const tenant = String(connection.tenant);
    checks.push(...(await discoveryChecks(services, fetchImpl, `${authority}/${tenant}/v2.0/.well-known/openid-configuration`, (found) => {
      const expected = /^[0-9a-f-]{36}$/i.test(tenant) ? `${authority}/${tenant}/v2.0` : `${authority}/{tenantid}/v2.0`;
      return found === expected ? null : `issuer mismatch: discovery says ${found || '(none)'}, expected ${expected}`;
    })));
  }
  const connector = services.connectors.get(connection.id);
  const notStarted = `the connector could not be started: ${services.connections.whyNotRunning(connection.id)}`;
  if (connection.type === 'ldap') {
    const directory = ldapDirectoryOf(connector);
    if (!directory) return [{ check: 'configuration', ok: false, detail: notStarted }];
    return directory.check();
  }
  if (connection.type === 'saml') {
    checks.push(connector ? { check: 'metadata', ok: true, detail: 'IdP metadata loaded, signing certificate present' } : { check: 'metadata', ok: false, detail: `the IdP metadata could not be loaded or used: ${services.connections.whyNotRunning(connection.id)}` });
  } else if (!connector) {
    checks.push({ check: 'configuration', ok: false, detail: notStarted });
  } else if (checks.length === 0) {
    // Yandex ID and VK ID publish no discovery: the configuration is all that can be checked here.
    checks.push({ check: 'configuration', ok: true, detail: 'the connector is running; its endpoints are first used at sign-in' });
  }
  return checks;
}

export function connectionRoutes(router: Router, services: Services): void {
  const auth = authMiddleware(services);
  const { connections } = services;

  router.get('/v1/connections', auth, async (ctx) => {
    await requireConnectionsAdmin(ctx, services);
    ctx.body = { connections: await connections.list() };
  });

  router.get('/v1/connections/:id', auth, async (ctx) => {
    await requireConnectionsAdmin(ctx, services);
    const connection = await connections.get(ctx.params.id!);
    if (!connection) throw new AppError('not_found', `connection ${ctx.params.id} does not exist`);
    ctx.body = connection;
  });

  router.post('/v1/connections', auth, async (ctx) => {
    const root = await services.access.requireConnectionChange(principalOf(ctx), { action: 'create' });
    const body = await readJson(ctx);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AppError('invalid_request', 'send a JSON object with the connector fields');
    const saved = await connections.save(body as Record<string, unknown>, 'create').catch(connectionError);
    await auditAction(ctx, services, { action: 'connection.created', target: { type: 'connection', id: saved.id }, project_id: root, outcome: 'success', detail: { type: saved.type } });
    ctx.status = 201;
    ctx.body = saved;
  });

  router.patch('/v1/connections/:id', auth, async (ctx) => {
    const root = await requireConnectionsAdmin(ctx, services);
    const body = await readJson(ctx);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AppError('invalid_request', 'send a JSON object with the fields to change');
    const current = await connections.storedConfig(ctx.params.id!);
    if (!current) {
      if (await connections.get(ctx.params.id!)) throw new AppError('conflict', `connector ${ctx.params.id} comes from the configuration file; change it there`);
      throw new AppError('not_found', `connection ${ctx.params.id} does not exist`);
    }
    const changes = body as Record<string, unknown>;
    if ('id' in changes && changes.id !== ctx.params.id) throw new AppError('invalid_request', 'the id of a connection cannot change', { field: 'id' });
    if ('type' in changes && changes.type !== current.type) throw new AppError('invalid_request', 'the type of a connection cannot change; create a new one', { field: 'type' });
    const next = { ...mergePatch(current, changes), id: ctx.params.id };
    await services.access.requireConnectionChange(principalOf(ctx), { action: 'update', fields: changedFields(current, next) });
    const saved = await connections.save(next, 'update').catch(connectionError);
    await auditAction(ctx, services, { action: 'connection.updated', target: { type: 'connection', id: saved.id }, project_id: root, outcome: 'success', detail: { fields: Object.keys(changes) } });
    ctx.body = saved;
  });

  router.delete('/v1/connections/:id', auth, async (ctx) => {
    const root = await services.access.requireConnectionChange(principalOf(ctx), { action: 'delete' });
    const wasScim = (await connections.get(ctx.params.id!))?.type === 'scim';
    const deleted = await connections.delete(ctx.params.id!).catch(connectionError);
    if (!deleted) throw new AppError('not_found', `connection ${ctx.params.id} does not exist`);
    if (wasScim) await services.scim.connectionDeleted(ctx.params.id!, { ip: ctx.ip, user_agent: ctx.get('user-agent') || null });
    await auditAction(ctx, services, { action: 'connection.deleted', target: { type: 'connection', id: ctx.params.id! }, project_id: root, outcome: 'success' });
    ctx.status = 204;
  });

  /**
   * A new bearer token for a SCIM connection, shown once; the old one stops working at once. Owner business,
   * like creating the connection: the token provisions and disables accounts.
   */
  router.post('/v1/connections/:id/token/rotate', auth, async (ctx) => {
    const root = await services.access.requireConnectionChange(principalOf(ctx), { action: 'update', fields: ['token'] });
    const token = await connections.rotateScimToken(ctx.params.id!).catch(connectionError);
    await auditAction(ctx, services, { action: 'connection.token_rotated', target: { type: 'connection', id: ctx.params.id! }, project_id: root, outcome: 'success' });
    ctx.body = { id: ctx.params.id, token };
  });

  /** Fetches discovery or metadata and says, in plain words, what is wrong. Changes nothing. */
  router.post('/v1/connections/:id/test', auth, async (ctx) => {
    const root = await requireConnectionsAdmin(ctx, services);
    const connection = await connections.get(ctx.params.id!);
    if (!connection) throw new AppError('not_found', `connection ${ctx.params.id} does not exist`);
    const checks = await testConnection(services, connection);
    const ok = checks.every((c) => c.ok);
    await auditAction(ctx, services, { action: 'connection.tested', target: { type: 'connection', id: connection.id }, project_id: root, outcome: ok ? 'success' : 'failure', detail: { checks: checks.filter((c) => !c.ok).map((c) => c.check) } });
    ctx.body = { ok, checks };
  });
}
