import type Router from '@koa/router';
import type { Context } from 'koa';
import { auditAction } from '../admin/context.ts';
import { groupSources } from '../admin/role-mappings.ts';
import { inviteToProject, revokeInvitation } from '../admin/invitations.ts';
import { asAppError } from '../admin/problem.ts';
import { isEmailAddress, isRole, type Invitation, type Project, type Role } from '../directory/index.ts';
import { invitationUrl } from '../interactions/index.ts';
import { INVITATION_REVOKE_PATH, INVITE_PATH, MAPPING_ADD_PATH, MAPPING_DELETE_PATH, MEMBER_REMOVE_PATH, MEMBER_ROLE_PATH, MEMBERS_PATH } from '../../views/dashboard/routes.ts';
import { mappingConfirmPage, membersPage, type InvitationRow, type MappingForm, type MembersView, type PreviewChange } from '../../views/dashboard/pages/members.ts';
import { allowed, dashboardHeaders, dashPage, render, type DashboardContext, type DashState } from './context.ts';

/** What an invitation post did, for the page it redirects to: a notice and a new link, shown once. */
interface InviteFlash {
  [key: string]: unknown;
  notice?: string | undefined;
  created?: MembersView['created'];
}

/**
 * Members and roles: the project's members with the causes of their roles, manual roles (set, remove,
 * give an existing account a role by email, or invite an email with no account yet: a one-time link)
 * and group → role mappings with a preview before any change. The same rules and audit events as
 * /v1/projects/{id}/members and …/invitations (src/admin/users.ts, src/admin/invitations.ts) and
 * /v1/role-mappings (src/admin/role-mappings.ts). An invitation follows post/redirect/get with a one-time
 * flash (its link is a secret), as keys do (src/dashboard/api-access.ts).
 */
export function memberRoutes(router: Router, dash: DashboardContext): void {
  const { services } = dash;
  const { users, memberships, groupRoles } = services;
  const sources = () => groupSources(services);
  const validSource = (source: string) => sources().includes(source);

  /** Who made an invitation, for people: an account's email, or the API key's id. */
  async function inviterOf(invitation: Invitation, t: ReturnType<typeof dashPage>['t']): Promise<string> {
    const { type, id } = invitation.invited_by;
    if (type === 'user' && id) return (await users.findById(id))?.email ?? id;
    if (type === 'api_key' && id) return t('dash.invite.by_key', { id });
    return id ?? type;
  }

  async function renderMembers(ctx: Context, state: DashState, project: Project, extra: Partial<Pick<MembersView, 'invite' | 'mappingForm' | 'errors' | 'notice' | 'created' | 'caution'>> = {}, status = 200) {
    const members = [];
    for (const m of await memberships.membersOf(project.id)) {
      const user = await users.findById(m.user_id);
      members.push({
        user_id: m.user_id,
        email: user?.email ?? m.user_id,
        name: user?.name ?? null,
        role: m.role,
        causes: m.grants.map((g) => ({ role: g.role, cause: g.cause, source: g.source ?? null })),
        manual: m.grants.find((g) => g.cause === 'manual')?.role ?? null,
      });
    }
    members.sort((a, b) => a.email.localeCompare(b.email));
    const mappings = (await groupRoles.list()).filter((m) => m.project_id === project.id).map((m) => ({ id: m.id, source: m.source, group: m.group, role: m.role, origin: m.origin }));
    const invitations: InvitationRow[] = [];
    for (const i of await services.invitations.listPending(project.id)) {
      invitations.push({ id: i.id, email: i.email, role: i.role, invited_by: await inviterOf(i, dashPage(ctx).t), created_at: i.created_at, expires_at: i.expires_at });
    }
    const available = sources();
    render(ctx, membersPage(dashPage(ctx), { ...state.chrome, project: { id: project.id, name: project.name }, section: 'members' }, {
      project: { id: project.id, name: project.name },
      members,
      canOwner: await services.access.isOwner(state.principal, project.id),
      mappings,
      invitations,
      created: extra.created,
      sources: available,
      invite: extra.invite ?? { email: '', role: 'member' },
      mappingForm: extra.mappingForm ?? { source: available[0] ?? '', group: '', role: 'viewer' },
      errors: extra.errors ?? {},
      notice: extra.notice,
      caution: extra.caution,
    }), status);
  }

  /** A posting person on a project they administer, with the form; undefined once answered. */
  async function posted(ctx: Context): Promise<{ state: DashState; form: URLSearchParams; project: Project } | undefined> {
    const state = await dash.signedIn(ctx);
    if (!state) return undefined;
    const form = await dash.checkedForm(ctx, state);
    if (!form) return undefined;
    const project = await dash.project(ctx, state, MEMBERS_PATH);
    if (!project) return undefined;
    return { state, form, project };
  }

  /** As PUT/DELETE /v1/projects/{id}/members/{user_id}: only an owner grants, changes or removes owner. */
  async function setManual(ctx: Context, state: DashState, project: Project, userId: string, role: Role | null): Promise<{ error?: string; notice?: string; status: number }> {
    const { t } = dashPage(ctx);
    const user = await users.findById(userId);
    if (!user) return { error: t('dash.members.err_user'), status: 404 };
    const grants = await memberships.grantsOf(user.id);
    const current = grants.find((g) => g.project_id === project.id && g.cause === 'manual');
    if (role === null && !current) return { error: t('dash.members.no_manual', { email: user.email }), status: 404 };
    if (!(await allowed(() => services.access.requireMemberChange(state.principal, project.id, { id: user.id, grants }, role)))) return { error: t('dash.members.err_owner'), status: 403 };
    const change = await memberships.setManual(user.id, project.id, role);
    await auditAction(ctx, services, { action: 'member.role_changed', target: { type: 'user', id: user.id }, project_id: project.id, outcome: 'success', detail: { cause: 'manual', from: role === null ? current!.role : (change?.from ?? current?.role ?? null), to: role === null ? (change?.to ?? null) : role } });
    return { notice: role ? t('dash.members.saved', { email: user.email, role: t(`dash.role.${role}`) }) : t('dash.members.removed', { email: user.email }), status: 200 };
  }

  router.get(MEMBERS_PATH, dashboardHeaders, async (ctx) => {
    const state = await dash.signedIn(ctx);
    if (!state) return;
    const project = await dash.project(ctx, state, MEMBERS_PATH);
    if (!project) return;
    const { flash, gone } = await dash.takeFlash<InviteFlash>(ctx, state, 'invitation', project.id);
    await renderMembers(ctx, state, project, { notice: flash?.notice, caution: gone ? dashPage(ctx).t('dash.flash.gone_invitation') : undefined, created: flash?.created });
  });

  router.post(MEMBER_ROLE_PATH, dashboardHeaders, async (ctx) => {
    const p = await posted(ctx);
    if (!p) return;
    const role = p.form.get('role') ?? '';
    if (!isRole(role)) return renderMembers(ctx, p.state, p.project, { errors: { member: dashPage(ctx).t('dash.members.err_role') } }, 400);
    const result = await setManual(ctx, p.state, p.project, p.form.get('user_id') ?? '', role);
    await renderMembers(ctx, p.state, p.project, result.error ? { errors: { member: result.error } } : { notice: result.notice }, result.status);
  });

  router.post(MEMBER_REMOVE_PATH, dashboardHeaders, async (ctx) => {
    const p = await posted(ctx);
    if (!p) return;
    const result = await setManual(ctx, p.state, p.project, p.form.get('user_id') ?? '', null);
    await renderMembers(ctx, p.state, p.project, result.error ? { errors: { member: result.error } } : { notice: result.notice }, result.status);
  });

  /**
   * Invite: an existing account found by email gets a manual role (as PUT …/members); an email with no
   * account gets an invitation (as POST …/invitations), its link shown once.
   */
  router.post(INVITE_PATH, dashboardHeaders, async (ctx) => {
    const p = await posted(ctx);
    if (!p) return;
    const { t } = dashPage(ctx);
    const invite = { email: (p.form.get('email') ?? '').trim(), role: p.form.get('role') ?? '' };
    const errors: Record<string, string> = {};
    if (!invite.email || invite.email.length > 320) errors.email = t('dash.invite.err_email');
    if (!isRole(invite.role)) errors.invite_role = t('dash.members.err_role');
    if (Object.keys(errors).length) return renderMembers(ctx, p.state, p.project, { invite, errors }, 400);
    const role = invite.role as Role;
    const user = await users.findByEmail(invite.email);
    if (user) {
      const result = await setManual(ctx, p.state, p.project, user.id, role);
      if (result.error) return renderMembers(ctx, p.state, p.project, { invite, errors: { invite_role: result.error } }, result.status);
      const flash: InviteFlash = { notice: result.notice };
      return dash.redirectWithFlash(ctx, p.state, 'invitation', p.project.id, MEMBERS_PATH, flash);
    }
    const email = invite.email.toLowerCase();
    if (!isEmailAddress(email)) return renderMembers(ctx, p.state, p.project, { invite, errors: { email: t('dash.invite.err_email') } }, 400);
    let made: Awaited<ReturnType<typeof inviteToProject>>;
    try {
      made = await inviteToProject(ctx, services, p.project.id, { email, role });
    } catch (caught) {
      const err = asAppError(caught);
      if (!err) throw caught;
      // forbidden: owner by a non-owner; conflict: the account appeared since the check above.
      if (err.code === 'conflict') return renderMembers(ctx, p.state, p.project, { invite, errors: { email: t('dash.invite.err_exists', { email }) } }, 409);
      return renderMembers(ctx, p.state, p.project, { invite, errors: { invite_role: t('dash.members.err_owner') } }, 403);
    }
    const { invitation, token } = made;
    const flash: InviteFlash = {
      notice: t('dash.invite.unknown', { email }),
      created: { url: invitationUrl(services.config.issuer, token), email, role, expires_at: invitation.expires_at },
    };
    await dash.redirectWithFlash(ctx, p.state, 'invitation', p.project.id, MEMBERS_PATH, flash);
  });

  /** As DELETE /v1/projects/{id}/invitations/{id}: the link stops working at once. */
  router.post(INVITATION_REVOKE_PATH, dashboardHeaders, async (ctx) => {
    const p = await posted(ctx);
    if (!p) return;
    const { t } = dashPage(ctx);
    const invitation = await services.invitations.get(p.form.get('id') ?? '');
    if (!invitation || invitation.project_id !== p.project.id) return dash.notFound(ctx, p.state, `${MEMBERS_PATH}?project=${encodeURIComponent(p.project.id)}`);
    try {
      await revokeInvitation(ctx, services, invitation);
    } catch (caught) {
      const err = asAppError(caught);
      if (!err) throw caught;
      return renderMembers(ctx, p.state, p.project, { errors: { member: err.code === 'forbidden' ? t('dash.members.err_owner') : t('dash.invite.err_gone') } }, err.status);
    }
    await renderMembers(ctx, p.state, p.project, { notice: t('dash.invite.revoked', { email: invitation.email }) });
  });

  async function previewOf(state: DashState, change: Parameters<typeof groupRoles.preview>[0]): Promise<PreviewChange[]> {
    const visible = await services.access.visibleProjects(state.principal, 'admin:projects');
    const out: PreviewChange[] = [];
    for (const c of (await groupRoles.preview(change)).filter((c) => visible.has(c.project_id))) {
      const project = await services.projects.get(c.project_id);
      out.push({ email: c.email, user_id: c.user_id, project: project?.name ?? c.project_id, from: c.from, to: c.to });
    }
    return out;
  }

  /** Add a mapping: the first post shows the preview; the confirmation (confirm=yes) saves it. */
  router.post(MAPPING_ADD_PATH, dashboardHeaders, async (ctx) => {
    const p = await posted(ctx);
    if (!p) return;
    const { state, form, project } = p;
    const page = dashPage(ctx);
    const { t } = page;
    const values: MappingForm = { source: form.get('source') ?? '', group: (form.get('group') ?? '').trim(), role: form.get('role') ?? '' };
    const errors: Record<string, string> = {};
    if (!validSource(values.source)) errors.source = t('dash.mappings.err_source');
    if (!values.group || values.group.length > 1000) errors.group = t('dash.mappings.err_group');
    if (!isRole(values.role)) errors.role = t('dash.members.err_role');
    const ownerOnly = !(await allowed(() => services.access.requireRoleChange(state.principal, project.id, { to: values.role }, 'map a group to owner')));
    if (ownerOnly) errors.role = t('dash.members.err_owner');
    if (Object.keys(errors).length) return renderMembers(ctx, state, project, { mappingForm: values, errors }, ownerOnly ? 403 : 400);
    const input = { source: values.source, group: values.group, project_id: project.id, role: values.role as Role };
    if (form.get('confirm') !== 'yes') {
      render(ctx, mappingConfirmPage(page, { ...state.chrome, project, section: 'members' }, { project, mode: 'add', mapping: values, changes: await previewOf(state, { add: [input] }) }));
      return;
    }
    const mapping = await groupRoles.create(input);
    await auditAction(ctx, services, { action: 'role_mapping.created', target: { type: 'role_mapping', id: mapping.id }, project_id: project.id, outcome: 'success', detail: { source: input.source, group: input.group, role: input.role } });
    await renderMembers(ctx, state, project, { notice: t('dash.mappings.added', { group: mapping.group, role: t(`dash.role.${mapping.role}`) }) });
  });

  async function mappingOf(ctx: Context, state: DashState, project: Project, id: string) {
    const mapping = id ? await groupRoles.get(id) : undefined;
    if (!mapping || mapping.project_id !== project.id) {
      dash.notFound(ctx, state, `${MEMBERS_PATH}?project=${encodeURIComponent(project.id)}`);
      return undefined;
    }
    if (mapping.origin === 'config') {
      await renderMembers(ctx, state, project, { errors: { member: dashPage(ctx).t('dash.mappings.err_config') } }, 409);
      return undefined;
    }
    if (!(await allowed(() => services.access.requireRoleChange(state.principal, project.id, { from: mapping.role }, 'remove a mapping to owner')))) {
      await renderMembers(ctx, state, project, { errors: { member: dashPage(ctx).t('dash.members.err_owner') } }, 403);
      return undefined;
    }
    return mapping;
  }

  router.get(MAPPING_DELETE_PATH, dashboardHeaders, async (ctx) => {
    const state = await dash.signedIn(ctx);
    if (!state) return;
    const project = await dash.project(ctx, state, MEMBERS_PATH);
    if (!project) return;
    const mapping = await mappingOf(ctx, state, project, typeof ctx.query.id === 'string' ? ctx.query.id : '');
    if (!mapping) return;
    render(ctx, mappingConfirmPage(dashPage(ctx), { ...state.chrome, project, section: 'members' }, { project, mode: 'delete', mapping, changes: await previewOf(state, { remove: [mapping.id] }) }));
  });

  router.post(MAPPING_DELETE_PATH, dashboardHeaders, async (ctx) => {
    const p = await posted(ctx);
    if (!p) return;
    const { state, form, project } = p;
    const mapping = await mappingOf(ctx, state, project, form.get('id') ?? '');
    if (!mapping) return;
    await groupRoles.delete(mapping.id);
    await auditAction(ctx, services, { action: 'role_mapping.deleted', target: { type: 'role_mapping', id: mapping.id }, project_id: mapping.project_id, outcome: 'success', detail: { source: mapping.source, group: mapping.group, role: mapping.role } });
    const { t } = dashPage(ctx);
    await renderMembers(ctx, state, project, { notice: t('dash.mappings.deleted', { group: mapping.group, role: t(`dash.role.${mapping.role}`) }) });
  });
}
