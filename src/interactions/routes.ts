import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import type { Services } from '../container.ts';
import type { FederationDeps } from './federation.ts';
import { StoreUnavailableError } from '../store/index.ts';
import { EMAIL_MAX_LENGTH, PasswordBusyError } from '../directory/index.ts';
import { isFirstParty, PASSWORD_ACR, projectOfClient } from '../oidc/index.ts';
import { LoginThrottle, type LoginTicket } from '../http/rate-limit.ts';
import { readForm } from '../http/form.ts';
import { loginPage, consentPage, errorPage } from '../../views/pages.ts';
import type { MessageKey } from '../../views/i18n.ts';
import { ConnectorError, connectorType, type Connector, type Identity, type PasswordConnector } from '../connectors/index.ts';
import { pageContext } from '../http/page.ts';
import { decideSignIn, federationRoutes, SIGN_IN_MESSAGES } from './federation.ts';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * The provider's interaction endpoints: the sign-in page, password sign-in, consent. Each handler
 * loads the interaction bound to the browser's interaction cookie (SameSite=Lax), which is what makes
 * a cross-site form post fail.
 */
/** What the sign-in pages use: federated sign-in's services, local accounts and passwords, the login throttle's store. */
type InteractionDeps = FederationDeps & Pick<Services, 'userRepository' | 'passwords' | 'membershipRepository' | 'projectRepository' | 'access'>;

export function interactionRoutes(router: Router, services: InteractionDeps): void {
  const { config, userRepository, auditLog, metrics, store, logger, connectors, passwords } = services;
  // The connector set changes at run time (/v1/connections): read it per request.
  const listed = () => [...connectors.values()].filter((c) => c.kind !== 'password');
  const passwordConnectors = () => [...connectors.values()].filter((c): c is PasswordConnector => c.kind === 'password');
  /** Home-realm discovery: the redirect or SAML connector serving an email's domain. */
  const connectorForEmail = (email: string): Connector | undefined => {
    const domain = email.slice(email.lastIndexOf('@') + 1);
    return listed().find((c) => c.email_domains.includes(domain));
  };
  const throttle = new LoginThrottle(store, {
    maxFailedAttempts: config.login.max_failed_attempts,
    windowSeconds: config.login.window_seconds,
    accountMaxFailedAttempts: config.login.account_max_failed_attempts,
    accountWindowSeconds: config.login.account_window_seconds,
    accountBackoffSeconds: config.login.account_backoff_seconds,
    accountBackoffMaxSeconds: config.login.account_backoff_max_seconds,
  });
  const provider = () => services.providers.current;

  async function clientOf(details: Details) {
    const client = await provider().Client.find(String(details.params.client_id));
    if (!client) throw new Error('interaction for an unknown client');
    return client;
  }

  function renderLogin(ctx: Context, details: Details, clientName: string, extra: { email?: string; error?: string } = {}) {
    ctx.type = 'html';
    ctx.body = loginPage(pageContext(ctx), {
      action: `/interaction/${details.uid}/login`,
      abortUrl: `/interaction/${details.uid}/abort`,
      clientName,
      connectors: listed().map((c) => ({ id: c.id, name: c.name, type: c.type, logo: connectorType(c.type)?.logo ?? '→', href: `/interaction/${details.uid}/federation/${c.id}` })),
      ...extra,
    });
  }

  /** The sign-in page again with a message (or a plain error page when there is no sign-in to return to). */
  const showError = async (ctx: Context, key: MessageKey, status: number, email?: string | null) => {
    const page = pageContext(ctx);
    const connector = typeof ctx.params.id === 'string' ? connectors.get(ctx.params.id) : undefined;
    const message = page.t(key, { name: connector?.name ?? 'the identity provider', email: email ?? '' });
    ctx.status = status;
    try {
      const details = await provider().interactionDetails(ctx.req, ctx.res);
      const client = await clientOf(details);
      renderLogin(ctx, details, client.clientName ?? client.clientId, { error: message, ...(email ? { email } : {}) });
      ctx.status = status;
    } catch {
      ctx.type = 'html';
      ctx.body = errorPage(page, { error: 'sign_in_failed', description: message });
    }
  };

  async function finishLogin(ctx: Context, accountId: string, identity: Pick<Identity, 'amr' | 'acr'>) {
    await finish(ctx, { login: { accountId, amr: identity.amr.length ? identity.amr : ['fed'], ...(identity.acr ? { acr: identity.acr } : {}), remember: true } }, false);
  }

  federationRoutes(router, services, (ctx, accountId, identity) => finishLogin(ctx, accountId, identity), showError);

  async function finish(ctx: Context, result: InteractionResults, merge = true) {
    const redirectTo = await provider().interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
    ctx.status = 303;
    ctx.redirect(redirectTo);
  }

  /** Records the consent the interaction asks for on the account's grant (new or existing). */
  async function grantConsent(details: Details): Promise<string> {
    const { prompt, params, session } = details;
    const detail = prompt.details as unknown as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    const { Grant } = provider();
    const grant = (details.grantId ? await Grant.find(details.grantId) : undefined)
      ?? new Grant({ accountId: session!.accountId, clientId: String(params.client_id) });
    if (detail.missingOIDCScope) grant.addOIDCScope(detail.missingOIDCScope.join(' '));
    if (detail.missingOIDCClaims) grant.addOIDCClaims(detail.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(detail.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    return grant.save();
  }

  /**
   * First-party clients skip the consent screen: the configuration file's (the operator's), for everyone; a
   * client registered in a project (src/clients), only for people of that project's organisation — its
   * owner speaks for them, not for people of other organisations signing in on this server.
   */
  async function consentGivenByOrganisation(client: { metadata(): Record<string, unknown> }, accountId: string): Promise<boolean> {
    if (!isFirstParty(client.metadata())) return false;
    const projectId = projectOfClient(client);
    if (projectId === undefined) return true;
    return services.access.inOrganisationOf(await services.membershipRepository.rolesOf(accountId), projectId);
  }

  /** The organisation (root project) that registered an application; undefined for the configuration's clients. */
  async function publisherOf(client: { metadata(): Record<string, unknown> }): Promise<string | undefined> {
    const projectId = projectOfClient(client);
    if (projectId === undefined) return undefined;
    const root = (await services.projectRepository.pathOf(projectId))?.[0];
    return root ? ((await services.projectRepository.get(root))?.name ?? root) : undefined;
  }

  router.get('/interaction/:uid', async (ctx) => {
    const details = await provider().interactionDetails(ctx.req, ctx.res);
    const client = await clientOf(details);
    const clientName = client.clientName ?? client.clientId;
    ctx.set('Cache-Control', 'no-store');
    if (details.prompt.name === 'login') {
      renderLogin(ctx, details, clientName, typeof details.params.login_hint === 'string' ? { email: details.params.login_hint } : {});
      return;
    }
    if (details.prompt.name === 'consent') {
      if (await consentGivenByOrganisation(client, details.session!.accountId)) {
        // First-party clients: consent is given by the organisation, recorded on the grant, never asked.
        await finish(ctx, { consent: { grantId: await grantConsent(details) } });
        return;
      }
      const user = await userRepository.findById(details.session!.accountId);
      ctx.type = 'html';
      ctx.body = consentPage(pageContext(ctx), {
        action: `/interaction/${details.uid}/confirm`,
        clientName,
        email: user?.email ?? '',
        scopes: String(details.params.scope ?? '').split(' ').filter(Boolean),
        publisher: await publisherOf(client),
      });
      return;
    }
    ctx.throw(400, `unsupported prompt ${details.prompt.name}`);
  });

  router.post('/interaction/:uid/login', async (ctx) => {
    const details = await provider().interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'login') ctx.throw(400, 'this interaction does not expect a sign-in');
    const client = await clientOf(details);
    const clientName = client.clientName ?? client.clientId;
    const form = await readForm(ctx);
    const email = (form.get('email') ?? '').trim().toLowerCase();
    const password = form.get('password') ?? '';
    const { t } = pageContext(ctx);
    ctx.set('Cache-Control', 'no-store');
    // No account has a longer address: refused before any lookup, limiter or audit write (none of them
    // should carry kilobytes an anonymous caller chose), and not echoed back into the page.
    if (email.length > EMAIL_MAX_LENGTH) {
      ctx.status = 400;
      renderLogin(ctx, details, clientName, { error: t('login.error.invalid') });
      return;
    }

    // Home-realm discovery: an email of a federated domain and no password goes to its identity provider.
    const home = email && !password ? connectorForEmail(email) : undefined;
    if (home) {
      ctx.status = 303;
      ctx.redirect(`/interaction/${details.uid}/federation/${home.id}?login_hint=${encodeURIComponent(email)}`);
      return;
    }
    if (!email || !password) {
      ctx.status = 400;
      renderLogin(ctx, details, clientName, { email, error: t('login.error.missing') });
      return;
    }

    const auditBase = { ip: ctx.ip, user_agent: ctx.get('user-agent') || null, target: { type: 'client', id: client.clientId } };
    let ticket: LoginTicket | undefined;
    try {
      // Reserve-then-check: the attempt is counted before any password is checked (see LoginThrottle).
      const admission = await throttle.admit(email, ctx.ip);
      if (!admission.ok) {
        metrics.logins.inc({ method: 'password', outcome: admission.limit === 'address' ? 'locked' : 'backoff' });
        await auditLog.record({ ...auditBase, actor: { type: 'anonymous', id: null }, action: 'login.failed', outcome: 'failure', detail: { email, reason: 'too_many_attempts', limit: admission.limit } });
        ctx.status = 429;
        ctx.set('Retry-After', String(admission.retryAfter));
        renderLogin(ctx, details, clientName, { email, error: t('login.error.locked', { minutes: Math.ceil(admission.retryAfter / 60) }) });
        return;
      }
      ticket = admission.ticket;

      const user = await userRepository.findByEmail(email);
      const ok = user?.password_hash && !user.disabled ? await passwords.verify(user.password_hash, password) : await passwords.burn(password);
      // Local accounts first, then directories (LDAP), as Keycloak does with federated users.
      if (!ok && !user?.password_hash) {
        // One directory that is down must not lock out the people of the others: try them all, and answer
        // 503 only when none accepted the password and one could not be asked (it might have).
        let unavailable: PasswordConnector | undefined;
        let refused = false;
        for (const connector of passwordConnectors()) {
          let identity: Identity;
          try {
            // A bind is a password check: admitted by the same throttle as the local one, above.
            metrics.passwordChecks.inc({ kind: 'directory' });
            identity = await connector.login({ username: email, password });
          } catch (err) {
            if (err instanceof ConnectorError && err.code === 'invalid_credentials') {
              refused = true;
              continue;
            }
            if (err instanceof ConnectorError && err.code === 'upstream_error') {
              logger.warn({ connector: connector.id, err: err.message }, 'directory unavailable during sign-in');
              await auditLog.record({ ...auditBase, actor: { type: 'anonymous', id: null }, action: 'login.failed', outcome: 'failure', detail: { email, method: connector.type, connector: connector.id, reason: 'directory_unavailable' } });
              unavailable ??= connector;
              continue;
            }
            throw err;
          }
          const decision = await decideSignIn(services, ctx, connector, identity, client.clientId);
          if (!decision.ok) {
            ctx.status = 403;
            renderLogin(ctx, details, clientName, { email, error: t(SIGN_IN_MESSAGES[decision.reason], { name: connector.name, email }) });
            return;
          }
          await throttle.succeeded(ticket);
          await finishLogin(ctx, decision.user.id, identity);
          return;
        }
        if (unavailable) {
          // No directory gave a verdict: the attempt is given back (an outage spends nobody's budget).
          // When another directory did refuse the password, it stays counted: the answer told that much.
          if (!refused) await throttle.unanswered(ticket);
          ctx.status = 503;
          renderLogin(ctx, details, clientName, { email, error: t('federation.error.unavailable', { name: unavailable.name }) });
          return;
        }
      }
      if (!user || !ok) {
        metrics.logins.inc({ method: 'password', outcome: 'failure' });
        await auditLog.record({ ...auditBase, actor: { type: user ? 'user' : 'anonymous', id: user?.id ?? null }, action: 'login.failed', outcome: 'failure', detail: { email, reason: user?.disabled ? 'disabled' : 'invalid_credentials' } });
        ctx.status = 401;
        renderLogin(ctx, details, clientName, { email, error: t('login.error.invalid') });
        return;
      }

      await throttle.succeeded(ticket);
      await userRepository.recordLogin(user.id);
      metrics.logins.inc({ method: 'password', outcome: 'success' });
      await auditLog.record({ ...auditBase, actor: { type: 'user', id: user.id }, action: 'login.succeeded', outcome: 'success', detail: { method: 'password' } });
      await finish(ctx, { login: { accountId: user.id, amr: ['pwd'], acr: PASSWORD_ACR, remember: true } }, false);
    } catch (err) {
      if (err instanceof PasswordBusyError) {
        // Every hashing slot and queue place is taken: "try again", and the attempt is given back.
        if (ticket) await throttle.unanswered(ticket).catch(() => undefined);
        metrics.logins.inc({ method: 'password', outcome: 'busy' });
        ctx.status = 503;
        ctx.set('Retry-After', '1');
        renderLogin(ctx, details, clientName, { email, error: t('login.error.busy') });
        return;
      }
      if (!(err instanceof StoreUnavailableError)) throw err;
      logger.warn({ err: err.message }, 'store unavailable during sign-in');
      ctx.status = 503;
      renderLogin(ctx, details, clientName, { email, error: t('login.error.unavailable') });
    }
  });

  router.post('/interaction/:uid/confirm', async (ctx) => {
    const details = await provider().interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'consent') ctx.throw(400, 'this interaction does not expect consent');
    const form = await readForm(ctx);
    const actor = { type: 'user' as const, id: details.session?.accountId ?? null };
    const target = { type: 'client', id: String(details.params.client_id) };
    if (form.get('decision') !== 'allow') {
      await auditLog.record({ actor, action: 'consent.denied', target, ip: ctx.ip, outcome: 'failure' });
      await finish(ctx, { error: 'access_denied', error_description: 'the user denied the request' }, false);
      return;
    }
    const grantId = await grantConsent(details);
    await auditLog.record({ actor, action: 'consent.granted', target, ip: ctx.ip, outcome: 'success', detail: { scope: details.params.scope } });
    await finish(ctx, { consent: { grantId } });
  });

  router.get('/interaction/:uid/abort', async (ctx) => {
    await provider().interactionDetails(ctx.req, ctx.res);
    await finish(ctx, { error: 'access_denied', error_description: 'the user cancelled the sign-in' }, false);
  });
}
