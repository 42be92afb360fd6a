import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Caller } from '../domain/index.ts';
import { isRole, type Invitation, type Project, type Role } from '../directory/index.ts';
import type { RoleChangePreview } from '../provisioning/index.ts';
import { INVITATION_REVOKE_PATH, INVITE_PATH, MAPPING_ADD_PATH, MAPPING_DELETE_PATH, MEMBER_REMOVE_PATH, MEMBER_ROLE_PATH, MEMBERS_PATH } from '../../views/dashboard/routes.ts';
import { mappingConfirmPage, membersPage, type InvitationRow, type MappingForm, type MembersView, type PreviewChange } from '../../views/dashboard/pages/members.ts';
import { callerOf } from '../http/caller.ts';
import { dashboardHeaders, dashboardPage, refusalOf, render, type DashboardContext, type DashboardState, type Refusal } from './context.ts';

/** What an invitation post did, for the page it redirects to: a notice and a new link, shown once. */
interface InviteFlash {
  [key: string]: unknown;
  notice?: string | undefined;
  created?: MembersView['created'];
}

/**
 * Members and roles: the project's members with the causes of their roles, manual roles (set, remove,
 * give an existing account a role by email, or invite an email with no account yet: a one-time link)
 * and group → role mappings with a preview before any change. The same service calls (so the same rules
 * and audit events) as /v1/projects/{id}/members and …/invitations and /v1/role-mappings: src/projects,
 * src/invitations, src/provisioning. Their refusals are told apart by code and field, never by message. An invitation follows post/redirect/get with a one-time
 * flash (its link is a secret), as keys do (src/dashboard/api-access.ts).
 */
export function memberRoutes(router: Router, dash: DashboardContext): void {
  const { services } = dash;
  const { userRepository, members, invitations, roleMappings } = services;


  /** Who made an invitation, for people: an account's email, or the API key's id. */
  async function inviterOf(invitation: Invitation, t: ReturnType<typeof dashboardPage>['t']): Promise<string> {
    const { type, id } = invitation.invited_by;
    if (type === 'user' && id) return (await userRepository.findById(id))?.email ?? id;
    if (type === 'api_key' && id) return t('dash.invite.by_key', { id });
    return id ?? type;
  }

  async function renderMembers(ctx: Context, state: DashboardState, project: Project, extra: Partial<Pick<MembersView, 'invite' | 'mappingForm' | 'errors' | 'notice' | 'created' | 'caution'>> = {}, status = 200) {
    const caller = callerOf(ctx);
    const rows = (await members.list(caller, project.id)).map((m) => ({
      user_id: m.user_id,
      email: m.email ?? m.user_id,
      name: m.name,
      role: m.role,
      causes: m.causes.map((c) => ({ role: c.role, cause: c.cause, source: c.source })),
      manual: m.manual,
    }));
    rows.sort((a, b) => a.email.localeCompare(b.email));
    const mappings = (await roleMappings.list(caller, project.id)).map((m) => ({ id: m.id, source: m.source, group: m.group, role: m.role, origin: m.origin }));
    const pending: InvitationRow[] = [];
    for (const i of await invitations.list(caller, project.id)) {
      pending.push({ id: i.id, email: i.email, role: i.role, invited_by: await inviterOf(i, dashboardPage(ctx).t), created_at: i.created_at, expires_at: i.expires_at });
    }
    const available = roleMappings.sources();
    render(ctx, membersPage(dashboardPage(ctx), { ...state.chrome, project: { id: project.id, name: project.name }, section: 'members' }, {
      project: { id: project.id, name: project.name },
      members: rows,
      canOwner: await services.access.isOwner(state.principal, project.id),
      mappings,
      invitations: pending,
      created: extra.created,
      sources: available,
      invite: extra.invite ?? { email: '', role: 'member' },
      mappingForm: extra.mappingForm ?? { source: available[0] ?? '', group: '', role: 'viewer' },
      errors: extra.errors ?? {},
      notice: extra.notice,
      caution: extra.caution,
    }), status);
  }

  const posted = (ctx: Context) => dash.postedOnProject(ctx, MEMBERS_PATH);

  /** Runs a service call; a refusal is returned to be shown (other errors propagate). */
  async function attempt<T>(call: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; err: Refusal; status: number }> {
    try {
      return { ok: true, value: await call() };
    } catch (err) {
      const refused = refusalOf(err);
      if (!refused) throw err;
      return { ok: false, err: refused, status: refused.status };
    }
  }

  /** The members page's words for a refused role change (src/projects MembershipService). */
  function roleChangeError(ctx: Context, err: Refusal, email: string | undefined): string {
    const { t } = dashboardPage(ctx);
    if (err.code === 'forbidden') return t('dash.members.err_owner');
    if (err.code === 'invalid') return t('dash.members.err_role');
    // not_found on user_id: the account is gone, or (a removal) it holds no manual role here.
    return email ? t('dash.members.no_manual', { email }) : t('dash.members.err_user');
  }

  router.get(MEMBERS_PATH, dashboardHeaders, async (ctx) => {
    const on = await dash.onProject(ctx, MEMBERS_PATH);
    if (!on) return;
    const { state, project } = on;
    const { flash, gone } = await dash.takeFlash<InviteFlash>(ctx, state, 'invitation', project.id);
    await renderMembers(ctx, state, project, { notice: flash?.notice, caution: gone ? dashboardPage(ctx).t('dash.flash.gone_invitation') : undefined, created: flash?.created });
  });

  /** As PUT /v1/projects/{id}/members/{user_id}. */
  router.post(MEMBER_ROLE_PATH, dashboardHeaders, async (ctx) => {
    const p = await posted(ctx);
    if (!p) return;
    const { t } = dashboardPage(ctx);
    const role = p.form.get('role') ?? '';
    if (!isRole(role)) return renderMembers(ctx, p.state, p.project, { errors: { member: t('dash.members.err_role') } }, 400);
    const result = await attempt(() => members.setRole(callerOf(ctx), { project_id: p.project.id, user_id: p.form.get('user_id') ?? '', role }));
    if (!result.ok) return renderMembers(ctx, p.state, p.project, { errors: { member: roleChangeError(ctx, result.err, undefined) } }, result.status);
    await renderMembers(ctx, p.state, p.project, { notice: t('dash.members.saved', { email: result.value.email, role: t(`dash.role.${role}`) }) });
  });

  /** As DELETE /v1/projects/{id}/members/{user_id}. */
  router.post(MEMBER_REMOVE_PATH, dashboardHeaders, async (ctx) => {
    const p = await posted(ctx);
    if (!p) return;
    const userId = p.form.get('user_id') ?? '';
    const user = userId ? await userRepository.findById(userId) : undefined;
    const result = await attempt(() => members.remove(callerOf(ctx), { project_id: p.project.id, user_id: userId }));
    if (!result.ok) return renderMembers(ctx, p.state, p.project, { errors: { member: roleChangeError(ctx, result.err, user?.email) } }, result.status);
    await renderMembers(ctx, p.state, p.project, { notice: dashboardPage(ctx).t('dash.members.removed', { email: user?.email ?? userId }) });
  });

  /**
   * Invite: an existing account found by email gets a manual role (as PUT …/members); an email with no
   * account gets an invitation (as POST …/invitations), its link shown once.
   */
  router.post(INVITE_PATH, dashboardHeaders, async (ctx) => {
    const p = await posted(ctx);
    if (!p) return;
    const { t } = dashboardPage(ctx);
    const invite = { email: (p.form.get('email') ?? '').trim(), role: p.form.get('role') ?? '' };
    const errors: Record<string, string> = {};
    if (!invite.email || invite.email.length > 320) errors.email = t('dash.invite.err_email');
    if (!isRole(invite.role)) errors.invite_role = t('dash.members.err_role');
    if (Object.keys(errors).length) return renderMembers(ctx, p.state, p.project, { invite, errors }, 400);
    const role = invite.role as Role;
    const email = invite.email.toLowerCase();
    const result = await attempt(() => invitations.inviteOrGrant(callerOf(ctx), { project_id: p.project.id, email: invite.email, role }));
    if (!result.ok) {
      const { err } = result;
      // On email: the account appeared since the lookup (conflict), or it is no address (invalid).
      const shown: Record<string, string> = err.field === 'email' ? { email: err.code === 'conflict' ? t('dash.invite.err_exists', { email }) : t('dash.invite.err_email') } : { invite_role: roleChangeError(ctx, err, undefined) };
      return renderMembers(ctx, p.state, p.project, { invite, errors: shown }, result.status);
    }
    const done = result.value;
    const flash: InviteFlash =
      done.kind === 'member'
        ? { notice: t('dash.members.saved', { email: done.email, role: t(`dash.role.${role}`) }) }
        : { notice: t('dash.invite.unknown', { email }), created: { url: done.url, email, role, expires_at: done.invitation.expires_at } };
    await dash.redirectWithFlash(ctx, p.state, 'invitation', p.project.id, MEMBERS_PATH, flash);
  });

  /** As DELETE /v1/projects/{id}/invitations/{id}: the link stops working at once. */
  router.post(INVITATION_REVOKE_PATH, dashboardHeaders, async (ctx) => {
    const p = await posted(ctx);
    if (!p) return;
    const { t } = dashboardPage(ctx);
    const result = await attempt(() => invitations.revoke(callerOf(ctx), { project_id: p.project.id, invitation_id: p.form.get('id') ?? '' }));
    // not_found: no such invitation on this project; conflict: it is no longer pending.
    if (!result.ok && result.err.code === 'not_found') {
      return dash.notFound(ctx, p.state, `${MEMBERS_PATH}?project=${encodeURIComponent(p.project.id)}`);
    }
    if (!result.ok) return renderMembers(ctx, p.state, p.project, { errors: { member: result.err.code === 'forbidden' ? t('dash.members.err_owner') : t('dash.invite.err_gone') } }, result.status);
    await renderMembers(ctx, p.state, p.project, { notice: t('dash.invite.revoked', { email: result.value.email }) });
  });

  async function previewRows(changes: RoleChangePreview[]): Promise<PreviewChange[]> {
    const out: PreviewChange[] = [];
    for (const c of changes) {
      const project = await services.projectRepository.get(c.project_id);
      out.push({ email: c.email, user_id: c.user_id, project: project?.name ?? c.project_id, from: c.from, to: c.to });
    }
    return out;
  }

  /** Add a mapping: the first post shows the preview; the confirmation (confirm=yes) saves it. */
  router.post(MAPPING_ADD_PATH, dashboardHeaders, async (ctx) => {
    const p = await posted(ctx);
    if (!p) return;
    const { state, form, project } = p;
    const page = dashboardPage(ctx);
    const { t } = page;
    const values: MappingForm = { source: form.get('source') ?? '', group: (form.get('group') ?? '').trim(), role: form.get('role') ?? '' };
    const errors: Record<string, string> = {};
    if (!roleMappings.sources().includes(values.source)) errors.source = t('dash.mappings.err_source');
    if (!values.group || values.group.length > 1000) errors.group = t('dash.mappings.err_group');
    if (!isRole(values.role)) errors.role = t('dash.members.err_role');
    if (Object.keys(errors).length) return renderMembers(ctx, state, project, { mappingForm: values, errors }, 400);
    const input = { source: values.source, group: values.group, project_id: project.id, role: values.role as Role };
    const caller = callerOf(ctx);
    /** A refused mapping next to its field: only an owner maps to owner; a source or group refused meanwhile. */
    const refused = (err: Refusal): Record<string, string> =>
      err.code === 'forbidden' ? { role: t('dash.members.err_owner') } : err.field === 'source' ? { source: t('dash.mappings.err_source') } : err.field === 'group' ? { group: t('dash.mappings.err_group') } : { role: t('dash.members.err_role') };
    if (form.get('confirm') !== 'yes') {
      const preview = await attempt(() => roleMappings.previewCreate(caller, input));
      if (!preview.ok) return renderMembers(ctx, state, project, { mappingForm: values, errors: refused(preview.err) }, preview.status);
      render(ctx, mappingConfirmPage(page, { ...state.chrome, project, section: 'members' }, { project, mode: 'add', mapping: values, changes: await previewRows(preview.value) }));
      return;
    }
    const made = await attempt(() => roleMappings.create(caller, input));
    if (!made.ok) return renderMembers(ctx, state, project, { mappingForm: values, errors: refused(made.err) }, made.status);
    await renderMembers(ctx, state, project, { notice: t('dash.mappings.added', { group: made.value.group, role: t(`dash.role.${made.value.role}`) }) });
  });

  /** The refusal of a mapping removal as the page says it; undefined once answered. */
  async function refuseRemoval(ctx: Context, state: DashboardState, project: Project, err: Refusal): Promise<void> {
    if (err.code === 'not_found') return dash.notFound(ctx, state, `${MEMBERS_PATH}?project=${encodeURIComponent(project.id)}`);
    const { t } = dashboardPage(ctx);
    await renderMembers(ctx, state, project, { errors: { member: err.code === 'conflict' ? t('dash.mappings.err_config') : t('dash.members.err_owner') } }, err.status);
  }

  /** A mapping of this project, found by the id in the form or the query (another project's: not found). */
  async function mappingIn(project: Project, caller: Caller, id: string): Promise<boolean> {
    return !!id && (await roleMappings.list(caller, project.id)).some((m) => m.id === id);
  }

  router.get(MAPPING_DELETE_PATH, dashboardHeaders, async (ctx) => {
    const on = await dash.onProject(ctx, MEMBERS_PATH);
    if (!on) return;
    const { state, project } = on;
    const id = typeof ctx.query.id === 'string' ? ctx.query.id : '';
    const caller = callerOf(ctx);
    if (!(await mappingIn(project, caller, id))) return dash.notFound(ctx, state, `${MEMBERS_PATH}?project=${encodeURIComponent(project.id)}`);
    try {
      const { mapping, changes } = await roleMappings.previewRemove(caller, id);
      render(ctx, mappingConfirmPage(dashboardPage(ctx), { ...state.chrome, project, section: 'members' }, { project, mode: 'delete', mapping, changes: await previewRows(changes) }));
    } catch (err) {
      const refused = refusalOf(err);
      if (!refused) throw err;
      await refuseRemoval(ctx, state, project, refused);
    }
  });

  router.post(MAPPING_DELETE_PATH, dashboardHeaders, async (ctx) => {
    const p = await posted(ctx);
    if (!p) return;
    const { state, form, project } = p;
    const id = form.get('id') ?? '';
    const caller = callerOf(ctx);
    if (!(await mappingIn(project, caller, id))) return dash.notFound(ctx, state, `${MEMBERS_PATH}?project=${encodeURIComponent(project.id)}`);
    try {
      const mapping = await roleMappings.remove(caller, id);
      const { t } = dashboardPage(ctx);
      await renderMembers(ctx, state, project, { notice: t('dash.mappings.deleted', { group: mapping.group, role: t(`dash.role.${mapping.role}`) }) });
    } catch (err) {
      const refused = refusalOf(err);
      if (!refused) throw err;
      await refuseRemoval(ctx, state, project, refused);
    }
  });
}
