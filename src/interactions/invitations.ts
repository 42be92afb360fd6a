import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { Services } from '../container.ts';
import { PasswordBusyError, passwordProblem, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, type Invitation, type InvitationFailure, type Project } from '../directory/index.ts';
import { readForm } from '../http/form.ts';
import { invitationMessagePage, invitationPage } from '../../views/pages.ts';
import type { MessageKey } from '../../views/i18n.ts';
import { pageContext } from './page.ts';

export const INVITATION_PATH = '/invitations';

/** The link shown once to whoever made the invitation. */
export function invitationUrl(issuer: string, token: string): string {
  return `${issuer}${INVITATION_PATH}/${token}`;
}

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

export function invitationRoutes(router: Router, services: Services): void {
  const { invitations, projects, users, memberships, audit, connectors, config, passwords } = services;
  const origin = new URL(config.issuer).origin;
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
    const result = await invitations.findByToken(ctx.params.token ?? '');
    const project = result.ok ? await projects.get(result.invitation.project_id) : undefined;
    if (!result.ok || !project) {
      gone(ctx, result.ok ? 'not_found' : result.code);
      return undefined;
    }
    return { invitation: result.invitation, project };
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

  router.post(`${INVITATION_PATH}/:token`, invitationHeaders, async (ctx) => {
    const { t } = pageContext(ctx);
    if (!sameOrigin(ctx)) return message(ctx, 403, 'invite.gone.title', t('invite.error.origin'));
    const found = await pending(ctx);
    if (!found) return;
    const { invitation, project } = found;
    const form = await readForm(ctx);
    const name = (form.get('name') ?? '').trim();
    const password = form.get('password') ?? '';
    const errors: Record<string, string> = {};
    if (!name || name.length > 200) errors.name = t('invite.error.name');
    const problem = passwordProblem(password);
    if (problem) errors.password = problem === 'too_short' ? t('invite.error.password_short', { min: PASSWORD_MIN_LENGTH }) : t('invite.error.password_long', { max: PASSWORD_MAX_LENGTH });
    else if (password !== (form.get('confirm') ?? '')) errors.confirm = t('invite.error.mismatch');
    if (Object.keys(errors).length) return showForm(ctx, found, { name, errors }, 400);

    // An account with this email appeared after the invitation (SSO, `users add`): never take it over.
    const accountExists = () => message(ctx, 409, 'invite.gone.title', t('invite.error.account_exists', { email: invitation.email }));
    if (await users.findByEmail(invitation.email)) return accountExists();
    let passwordHash: string;
    try {
      // Under the process's hashing bound: a link posted many times at once costs slots, not 64 MiB each.
      passwordHash = await passwords.hash(password);
    } catch (err) {
      if (!(err instanceof PasswordBusyError)) throw err;
      ctx.set('Retry-After', '1');
      return showForm(ctx, found, { name, errors: { password: t('invite.error.busy') } }, 503);
    }
    // Accepting is the atomic step, and it comes first: a second post of the same form, or a revoke a
    // moment ago, loses here and nothing is created. (An account that appeared in between still wins below:
    // the invitation is then used up, and the person is told to ask for a new one.)
    const accepted = await invitations.accept(invitation.id, undefined);
    if (!accepted.ok) return gone(ctx, accepted.code);
    const made = await users.create({ email: invitation.email, name, email_verified: true, password_hash: passwordHash, source: 'local' });
    if (!made.created) return accountExists();
    const user = made.user;
    await invitations.recordAcceptedBy(invitation.id, user.id);
    const base = { actor: { type: 'user' as const, id: user.id }, ip: ctx.ip, user_agent: ctx.get('user-agent') || null, outcome: 'success' as const };
    await audit.record({ ...base, action: 'user.created', target: { type: 'user', id: user.id }, project_id: project.id, detail: { email: user.email, via: 'invitation', invitation_id: invitation.id } });
    const change = await memberships.setManual(user.id, project.id, invitation.role);
    await audit.record({ ...base, action: 'member.role_changed', target: { type: 'user', id: user.id }, project_id: project.id, detail: { cause: 'manual', from: change?.from ?? null, to: invitation.role, invitation_id: invitation.id } });
    await audit.record({ ...base, action: 'invitation.accepted', target: { type: 'invitation', id: invitation.id }, project_id: project.id, detail: { email: invitation.email, role: invitation.role, via: 'password' } });
    ctx.status = 200;
    ctx.type = 'html';
    ctx.body = invitationMessagePage(pageContext(ctx), { title: t('invite.done.title'), body: t('invite.done.body', { role: t(`role.${invitation.role}`), project: project.name, email: user.email }) });
  });
}
