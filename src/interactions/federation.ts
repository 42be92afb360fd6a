import { randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Services } from '../container.ts';
import { ConnectorError, type Connector, type Identity } from '../connectors/index.ts';
import { FederationTransactions, TRANSACTION_TTL } from '../connectors/transactions.ts';
import { signInWithIdentity, type SignInResult } from '../directory/index.ts';
import { readForm } from '../http/form.ts';
import type { MessageKey } from '../../views/i18n.ts';
import { bindToBrowser, isBoundBrowser, releaseBrowser, type BindingOptions, type BrowserBinding } from './browser-binding.ts';

/**
 * Federated sign-in. The browser leaves from the sign-in page (`/interaction/:uid/federation/:id`), comes
 * back to `/federation/:id/callback` (OAuth/OIDC) or `/federation/:id/acs` (SAML HTTP-POST), and finishes
 * at `/interaction/:uid/federated`, where the interaction cookie (path-scoped, SameSite=Lax) is sent again.
 * Transactions (state, nonce, PKCE verifier, SAML request id) live server-side for 10 minutes and are
 * consumed once, by the first callback that names them, whatever it brings.
 *
 * Each transaction is bound to the browser that started it by a cookie (browser-binding.ts), checked at the
 * callback before the upstream's answer is even looked at: a callback that arrives in another browser (an
 * upstream URL or a callback URL handed to a victim) exchanges nothing and finishes no interaction, neither
 * the one that started it nor the victim's (login CSRF, RFC 9700 §4.7.1; OIDC Core §3.1.2.1).
 */
interface Transaction {
  [key: string]: unknown;
  uid: string;
  connector_id: string;
  transaction: Record<string, string>;
  /** The browser this sign-in belongs to: its cookie's name and the hash of its value. */
  binding: BrowserBinding;
}

type FederationResult =
  | { ok: true; identity: Identity }
  | { ok: false; code: string; message_key: MessageKey; email?: string | null };

const ERROR_MESSAGES: Record<string, MessageKey> = {
  invalid_state: 'federation.error.state',
  access_denied: 'federation.error.denied',
  mfa_required: 'federation.error.mfa',
  tenant_not_allowed: 'federation.error.tenant',
  upstream_error: 'federation.error.generic',
  invalid_token: 'federation.error.generic',
  replay: 'federation.error.generic',
  invalid_credentials: 'federation.error.generic',
};

const SIGN_IN_MESSAGES: Record<Exclude<SignInResult, { ok: true }>['reason'], MessageKey> = {
  no_access: 'federation.error.no_access',
  email_unverified: 'federation.error.email_unverified',
  account_exists: 'federation.error.account_exists',
  disabled: 'federation.error.disabled',
  connection_changed: 'federation.error.state',
};

function callbackUrl(issuer: string, connectorId: string): string {
  return `${issuer}/federation/${connectorId}/callback`;
}

/** The sign-in decision for an identity, audited; shared by redirect, SAML and password connectors. */
type SignInDecisionDeps = Pick<Services, 'signIn' | 'connectionSet' | 'upstreamSessions' | 'config' | 'metrics' | 'auditLog'>;

export async function decideSignIn(services: SignInDecisionDeps, ctx: Context, connector: Connector, identity: Identity, clientId: string): Promise<SignInResult> {
  const result = await signInWithIdentity(services.signIn, identity, connector);
  const base = { ip: ctx.ip, user_agent: ctx.get('user-agent') || null, target: { type: 'client', id: clientId } };
  if (result.ok) {
    const refreshToken = identity.upstream?.refresh_token;
    if (refreshToken && services.connectionSet.configs.get(connector.id)?.check_upstream_on_refresh) {
      await services.upstreamSessions.save(result.user.id, identity, refreshToken, services.config.tokens.refresh_token_ttl);
    }
    services.metrics.logins.inc({ method: connector.type, outcome: 'success' });
    await services.auditLog.record({ ...base, actor: { type: 'user', id: result.user.id }, action: 'login.succeeded', outcome: 'success', detail: { method: connector.type, connector: connector.id, created: result.created, linked: result.linked, amr: identity.amr } });
  } else {
    services.metrics.logins.inc({ method: connector.type, outcome: result.reason });
    await services.auditLog.record({ ...base, actor: { type: 'anonymous', id: null }, action: 'login.failed', outcome: 'failure', detail: { method: connector.type, connector: connector.id, reason: result.reason, email: identity.email } });
  }
  return result;
}

type ShowError = (ctx: Context, key: MessageKey, status: number, email?: string | null) => Promise<void>;

/** What federated sign-in uses: the connectors, the protocol, its transactions' store, and the sign-in decision. */
export type FederationDeps = SignInDecisionDeps & Pick<Services, 'connectors' | 'providers' | 'store' | 'logger'>;

export function federationRoutes(router: Router, services: FederationDeps, finish: (ctx: Context, accountId: string, identity: Identity) => Promise<void>, showError: ShowError): void {
  const { connectors, config } = services;
  const transactions = new FederationTransactions<Transaction, FederationResult>(services.store);
  const provider = () => services.providers.current;
  const issuerPath = new URL(config.issuer).pathname.replace(/\/+$/, '');
  const bindingOptions = (connector: Connector): BindingOptions => ({
    path: `${issuerPath}/federation/${connector.id}/`,
    https: config.issuer.startsWith('https:'),
    crossSitePost: connector.kind === 'saml',
    maxAgeSeconds: TRANSACTION_TTL,
  });

  function connectorOf<K extends Connector['kind']>(ctx: Context, ...kinds: K[]): Extract<Connector, { kind: K }> {
    const connector = connectors.get(ctx.params.id ?? ctx.params.connector ?? '');
    if (!connector || !(kinds as string[]).includes(connector.kind)) {
      const error = new Error('no such sign-in method') as Error & { status: number; expose: boolean };
      error.status = 404;
      error.expose = true;
      throw error;
    }
    return connector as Extract<Connector, { kind: K }>;
  }

  async function fail(uid: string, connector: Connector, error: unknown): Promise<FederationResult> {
    const code = error instanceof ConnectorError ? error.code : 'upstream_error';
    services.logger.warn({ connector: connector.id, code, err: error instanceof Error ? error.message : String(error) }, 'federated sign-in refused');
    await services.auditLog.record({ actor: { type: 'anonymous', id: null }, action: 'login.failed', target: { type: 'connector', id: connector.id }, ip: null, outcome: 'failure', detail: { method: connector.type, connector: connector.id, reason: code } });
    services.metrics.logins.inc({ method: connector.type, outcome: code });
    const result: FederationResult = { ok: false, code, message_key: ERROR_MESSAGES[code] ?? 'federation.error.generic' };
    await transactions.land(uid, result);
    return result;
  }

  /** Leaves for the upstream. */
  router.get('/interaction/:uid/federation/:connector', async (ctx) => {
    const details = await provider().interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'login') ctx.throw(400, 'this interaction does not expect a sign-in');
    const connector = connectorOf(ctx, 'redirect', 'saml');
    const state = randomBytes(24).toString('base64url');
    const loginHint = typeof ctx.query.login_hint === 'string' ? ctx.query.login_hint : undefined;
    const started = connector.kind === 'saml'
      ? await connector.begin({ relayState: state })
      : await connector.begin({ redirectUri: callbackUrl(config.issuer, connector.id), state, loginHint });
    const binding = bindToBrowser(ctx, bindingOptions(connector));
    const tx: Transaction = { uid: details.uid, connector_id: connector.id, transaction: started.transaction, binding };
    await transactions.begin(state, tx);
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(started.url);
  });

  async function land(ctx: Context, uid: string | undefined, connector: Connector, run: () => Promise<Identity>): Promise<void> {
    if (!uid) {
      await showError(ctx, 'federation.error.state', 400);
      return;
    }
    try {
      const identity = await run();
      await transactions.land(uid, { ok: true, identity });
    } catch (error) {
      await fail(uid, connector, error);
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 303;
    ctx.redirect(`/interaction/${uid}/federated`);
  }

  /**
   * The first step of every callback: take the transaction its state names (once, whoever asks), then make
   * sure this is the browser that started it. Anything else is answered here, audited, and finishes nothing.
   */
  async function arrive(ctx: Context, connector: Connector, state: string | undefined): Promise<Transaction | undefined> {
    const tx = await transactions.take(state, connector.id);
    const refuse = async (reason: 'invalid_state' | 'browser_mismatch', key: MessageKey, status: number) => {
      services.metrics.logins.inc({ method: connector.type, outcome: reason });
      await services.auditLog.record({ actor: { type: 'anonymous', id: null }, action: 'login.failed', target: { type: 'connector', id: connector.id }, ip: ctx.ip, user_agent: ctx.get('user-agent') || null, outcome: 'failure', detail: { method: connector.type, connector: connector.id, reason } });
      ctx.set('Cache-Control', 'no-store');
      await showError(ctx, key, status);
      return undefined;
    };
    if (!tx) return refuse('invalid_state', 'federation.error.state', 400);
    if (!isBoundBrowser(ctx, tx.binding)) {
      services.logger.warn({ connector: connector.id, ip: ctx.ip }, 'federated callback from another browser than the one that started the sign-in: refused');
      return refuse('browser_mismatch', 'federation.error.other_browser', 403);
    }
    releaseBrowser(ctx, tx.binding, bindingOptions(connector));
    return tx;
  }

  router.get('/federation/:id/callback', async (ctx) => {
    const connector = connectorOf(ctx, 'redirect');
    const query = new URLSearchParams(ctx.querystring);
    const tx = await arrive(ctx, connector, query.get('state') ?? undefined);
    if (!tx) return;
    await land(ctx, tx.uid, connector, () => connector.complete({ redirectUri: callbackUrl(config.issuer, connector.id), query, transaction: tx.transaction }));
  });

  router.post('/federation/:id/acs', async (ctx) => {
    const connector = connectorOf(ctx, 'saml');
    const form = await readForm(ctx, 512 * 1024);
    const samlResponse = form.get('SAMLResponse') ?? '';
    if (!samlResponse) {
      await showError(ctx, 'federation.error.generic', 400);
      return;
    }
    // IdP-initiated (unsolicited) responses have no sign-in in progress to complete: `arrive` refuses them,
    // even when the connector would accept one, and sends the person back to their application.
    const tx = await arrive(ctx, connector, form.get('RelayState') ?? undefined);
    if (!tx) return;
    await land(ctx, tx.uid, connector, () => connector.complete({ samlResponse, transaction: tx.transaction }));
  });

  router.get('/federation/:id/metadata', async (ctx) => {
    const connector = connectorOf(ctx, 'saml');
    ctx.type = 'application/samlmetadata+xml';
    ctx.body = await connector.metadata();
  });

  /** Back under the interaction's path: decide, then finish the interaction or show why not. */
  router.get('/interaction/:uid/federated', async (ctx) => {
    const details = await provider().interactionDetails(ctx.req, ctx.res);
    const result = await transactions.collect(details.uid);
    ctx.set('Cache-Control', 'no-store');
    if (!result) {
      await showError(ctx, 'federation.error.state', 400);
      return;
    }
    if (!result.ok) {
      await showError(ctx, result.message_key, 401);
      return;
    }
    const connector = connectors.get(result.identity.connector_id);
    if (!connector) {
      await showError(ctx, 'federation.error.state', 400);
      return;
    }
    const decision = await decideSignIn(services, ctx, connector, result.identity, String(details.params.client_id));
    if (!decision.ok) {
      await showError(ctx, SIGN_IN_MESSAGES[decision.reason], 403, result.identity.email);
      return;
    }
    await finish(ctx, decision.user.id, result.identity);
  });
}

export { SIGN_IN_MESSAGES };
