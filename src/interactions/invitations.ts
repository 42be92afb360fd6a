import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { passwordProblem, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, type Invitation, type InvitationFailure, type Project } from '../directory/index.ts';
import { isDomainError } from '../domain/index.ts';
import { INVITATION_PATH, type InvitationService } from '../invitations/index.ts';
import type { Connector } from '../connectors/index.ts';
import { readForm } from '../http/form.ts';
import { invitationMessagePage, invitationPage } from '../../views/pages.ts';
import type { MessageKey } from '../../views/i18n.ts';
import { pageContext } from '../http/page.ts';

/**
 * The pages behind an invitation link, for someone with no account and no session: the link's token is
 * the credential. GET shows the invitation and a form (name, password twice); POST creates a local account
 * (argon2id, email verified — the link went to that address), grants the invited role (cause manual) and
 * accepts the invitation. Nothing is created for a link that is unknown, expired, revoked or used.
 *
 * `Referrer-Policy: same-origin` instead of the sign-in pages' `no-referrer`: with no-referrer a browser
 * sends `Origin: null` on the form post, and the post is refused unless it comes from our own origin.
 * The other headers (CSP without script) are the sign-in pages' own.
 */
const invitationHeaders: Middleware = async (ctx, next) => {
  ctx.set('Referrer-Policy', 'same-origin');
  ctx.set('Cache-Control', 'no-store');
  await next();
};

const GONE_MESSAGES: Record<InvitationFailure, MessageKey> = {
  not_found: 'invite.gone.not_found',
  expired: 'invite.gone.expired',
  revoked: 'invite.gone.revoked',
  accepted: 'invite.gone.accepted',
};

export function invitationRoutes(router: Router, services: { invitations: InvitationService; connectors: Map<string, Connector>; config: { issuer: string } }): void {
  const { invitations, connectors } = services;
  const origin = new URL(services.config.issuer).origin;
  // The connector set changes at run time (/v1/connections): read it per request.
  // Of those, the ones that serve the invited address's domain (home-realm discovery), else the ones
  // that serve no domain in particular: a connection reserved for other domains is no way in for them.
  const ssoNames = (email: string) => {
    const domain = email.slice(email.lastIndexOf('@') + 1);
    const sso = [...connectors.values()].filter((c) => c.kind !== 'password');
    const serving = sso.filter((c) => c.email_domains.includes(domain));
    return (serving.length ? serving : sso.filter((c) => c.email_domains.length === 0)).map((c) => c.name);
  };

  function message(ctx: Context, status: number, title: MessageKey, body: string): void {
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = invitationMessagePage(pageContext(ctx), { title: pageContext(ctx).t(title), body, alert: status >= 400 });
  }

  /** 404 for a link that never was, 410 for one that was and is no more. */
  function gone(ctx: Context, code: InvitationFailure): void {
    message(ctx, code === 'not_found' ? 404 : 410, 'invite.gone.title', pageContext(ctx).t(GONE_MESSAGES[code]));
  }

  async function pending(ctx: Context): Promise<{ invitation: Invitation; project: Project } | undefined> {
    const found = await invitations.link(ctx.params.token ?? '');
    if (!found.ok) {
      gone(ctx, found.code);
      return undefined;
    }
    return found;
  }

  function showForm(ctx: Context, found: { invitation: Invitation; project: Project }, extra: { name?: string; errors?: Record<string, string> } = {}, status = 200): void {
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = invitationPage(pageContext(ctx), {
      action: ctx.path,
      project: found.project.name,
      role: found.invitation.role,
      email: found.invitation.email,
      minLength: PASSWORD_MIN_LENGTH,
      sso: ssoNames(found.invitation.email),
      ...extra,
    });
  }

  /** Origin, else Referer, must be this server (as the dashboard checks its forms). */
  function sameOrigin(ctx: Context): boolean {
    const sent = ctx.get('origin');
    if (sent) return sent === origin;
    try {
      return new URL(ctx.get('referer')).origin === origin;
    } catch {
      return false;
    }
  }

  router.get(`${INVITATION_PATH}/:token`, invitationHeaders, async (ctx) => {
    const found = await pending(ctx);
    if (found) showForm(ctx, found);
  });

  /** The form's checks, in the page's language; the service checks the same again (src/invitations). */
  router.post(`${INVITATION_PATH}/:token`, invitationHeaders, async (ctx) => {
    const { t } = pageContext(ctx);
    if (!sameOrigin(ctx)) return message(ctx, 403, 'invite.gone.title', t('invite.error.origin'));
    const found = await pending(ctx);
    if (!found) return;
    const { invitation } = found;
    const form = await readForm(ctx);
    const name = (form.get('name') ?? '').trim();
    const password = form.get('password') ?? '';
    const errors: Record<string, string> = {};
    if (!name || name.length > 200) errors.name = t('invite.error.name');
    const problem = passwordProblem(password);
    if (problem) errors.password = problem === 'too_short' ? t('invite.error.password_short', { min: PASSWORD_MIN_LENGTH }) : t('invite.error.password_long', { max: PASSWORD_MAX_LENGTH });
    else if (password !== (form.get('confirm') ?? '')) errors.confirm = t('invite.error.mismatch');
    if (Object.keys(errors).length) return showForm(ctx, found, { name, errors }, 400);

    let result: Awaited<ReturnType<InvitationService['acceptWithPassword']>>;
    try {
      result = await invitations.acceptWithPassword({ ip: ctx.ip, user_agent: ctx.get('user-agent') || null }, { token: ctx.params.token ?? '', name, password });
    } catch (err) {
      if (!isDomainError(err)) throw err;
      // An account with this email appeared after the invitation (SSO, `users add`): never taken over.
      if (err.code === 'conflict') return message(ctx, 409, 'invite.gone.title', t('invite.error.account_exists', { email: invitation.email }));
      if (err.code === 'unavailable') {
        ctx.set('Retry-After', '1');
        return showForm(ctx, found, { name, errors: { password: t('invite.error.busy') } }, 503);
      }
      return showForm(ctx, found, { name, errors: { [err.field === 'name' ? 'name' : 'password']: err.field === 'name' ? t('invite.error.name') : t('invite.error.password_short', { min: PASSWORD_MIN_LENGTH }) } }, 400);
    }
    if (!result.ok) return gone(ctx, result.code);
    ctx.status = 200;
    ctx.type = 'html';
    ctx.body = invitationMessagePage(pageContext(ctx), { title: t('invite.done.title'), body: t('invite.done.body', { role: t(`role.${result.invitation.role}`), project: result.project.name, email: result.user.email }) });
  });
}
