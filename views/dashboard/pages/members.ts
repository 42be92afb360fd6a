/**
 * Members and roles: the members with the causes of their roles, manual roles, invitations (a link shown
 * once) and group → role mappings; and the confirmation of a mapping change with its preview.
 */
import { html, type SafeHtml } from '../../html.ts';
import { ROLES, type MembershipCause, type Role } from '../../../src/directory/index.ts';
import {
  confirmationPage,
  csrfForm,
  facts,
  formatTime,
  formatUtc,
  layout,
  messages,
  options,
  roleName,
  roleOptions,
  rowButton,
  secretShownOnce,
  selectField,
  table,
  textField,
  type Chrome,
  type DashboardPage,
  type FieldErrors,
  type ProjectRef,
} from '../components.ts';
import { INVITATION_REVOKE_PATH, INVITE_PATH, MAPPING_ADD_PATH, MAPPING_DELETE_PATH, MEMBER_REMOVE_PATH, MEMBER_ROLE_PATH, MEMBERS_PATH, url } from '../routes.ts';

export interface MemberRow {
  user_id: string;
  email: string;
  name: string | null;
  role: Role;
  causes: Array<{ role: Role; cause: MembershipCause; source: string | null }>;
  manual: Role | null;
}

export interface MappingRow {
  id: string;
  source: string;
  group: string;
  role: Role;
  origin: 'config' | 'api';
}

export interface MappingForm {
  source: string;
  group: string;
  role: string;
}

export interface InvitationRow {
  id: string;
  email: string;
  role: Role;
  /** The inviter for people: an email, or the API key. */
  invited_by: string;
  created_at: string;
  expires_at: string;
}

export interface MembersView {
  project: ProjectRef;
  members: MemberRow[];
  /** Pending invitations of the project. */
  invitations: InvitationRow[];
  /** An invitation made just now: its link, shown this once. */
  created?: { url: string; email: string; role: string; expires_at: string } | undefined;
  /** Whether the person may grant, change or remove the owner role here. */
  canOwner: boolean;
  mappings: MappingRow[];
  sources: string[];
  invite: { email: string; role: string };
  mappingForm: MappingForm;
  errors: FieldErrors;
  notice?: string | undefined;
  /** Not an error, but not good news: a one-time secret asked for again (post/redirect/get flash). */
  caution?: string | undefined;
}

/** The roles this person may hand out here: owner only by an owner. */
function offeredRoles(canOwner: boolean): readonly Role[] {
  return canOwner ? ROLES : ROLES.filter((r) => r !== 'owner');
}

function causeText(page: DashboardPage, c: MemberRow['causes'][number]): string {
  return page.t(`dash.cause.${c.cause}`, { source: c.source ?? '' });
}

function createdInvitation(page: DashboardPage, view: NonNullable<MembersView['created']>, project: string): SafeHtml {
  const { t } = page;
  return secretShownOnce(page, {
    id: 'invitation-link',
    panel: 'invitation',
    title: t('dash.invite.link_title', { email: view.email }),
    warning: t('dash.invite.link_warning', { email: view.email, date: formatUtc(page, view.expires_at), role: roleName(page, view.role) }),
    label: t('dash.invite.link_label'),
    value: view.url,
    copyFailed: t('dash.invite.copy_failed'),
    done: { href: url(MEMBERS_PATH, { project }), label: t('dash.invite.link_done') },
  });
}

function membersTable(page: DashboardPage, chrome: Chrome, view: MembersView): SafeHtml {
  const { t } = page;
  const project = view.project.id;
  const offered = offeredRoles(view.canOwner);
  const manage = (m: MemberRow) => {
    if (!view.canOwner && m.manual === 'owner') return html`<p class="muted">${t('dash.members.owner_only')}</p>`;
    const role = html`
      <label for="role-${m.user_id}" class="visually-hidden">${t('dash.members.role_for', { email: m.email })}</label>
      <select id="role-${m.user_id}" name="role">${m.manual ? '' : html`<option value="" selected>—</option>`}${roleOptions(page, offered, m.manual)}</select>`;
    return html`${rowButton(chrome, { method: 'post', action: url(MEMBER_ROLE_PATH, { project }), hidden: { user_id: m.user_id }, label: t('dash.members.save'), hiddenLabel: m.email }, role)}
    ${m.manual ? rowButton(chrome, { method: 'post', action: url(MEMBER_REMOVE_PATH, { project }), hidden: { user_id: m.user_id }, label: t('dash.members.remove'), hiddenLabel: m.email, danger: true }) : ''}`;
  };
  return table({
    id: 'members',
    className: 'members',
    caption: t('dash.members.caption', { project: view.project.name }),
    columns: [t('dash.members.person'), t('dash.members.role'), t('dash.members.causes'), t('dash.members.manual_role')],
    rows: view.members,
    empty: t('dash.members.empty'),
    row: (m) => html`<tr data-user-id="${m.user_id}">
  <th scope="row">${m.email}${m.name ? html`<br><span class="muted">${m.name}</span>` : ''}</th>
  <td><span class="badge role-${m.role}">${roleName(page, m.role)}</span></td>
  <td><ul class="causes">${m.causes.map((c) => html`<li>${causeText(page, c)}: ${roleName(page, c.role)}</li>`)}</ul></td>
  <td class="actions-cell">${manage(m)}</td>
</tr>`,
  });
}

function invitePanel(page: DashboardPage, chrome: Chrome, view: MembersView): SafeHtml {
  const { t } = page;
  const project = view.project.id;
  const errors = view.errors;
  return html`<section class="panel" aria-labelledby="invite-title">
<h2 id="invite-title">${t('dash.invite.title')}</h2>
<p class="hint">${t('dash.invite.intro')}</p>
${csrfForm(chrome, { action: url(INVITE_PATH, { project }), className: 'stack', novalidate: true }, html`
  <div class="field-row">
    ${textField({ id: 'invite-email', name: 'email', type: 'email', label: t('dash.invite.email'), value: view.invite.email, errors, attrs: { autocomplete: 'off' } })}
    ${selectField({ id: 'invite-role', name: 'role', error: 'invite_role', label: t('dash.invite.role'), errors, options: roleOptions(page, offeredRoles(view.canOwner), view.invite.role || 'member') })}
  </div>
  <div><button type="submit">${t('dash.invite.submit')}</button></div>`)}
<h3 id="invitations-title">${t('dash.invite.pending_title')}</h3>
${table({
  id: 'invitations',
  className: 'invitations',
  caption: t('dash.invite.pending_caption', { project: view.project.name }),
  columns: [t('dash.invite.email'), t('dash.members.role'), t('dash.invite.invited_by'), t('dash.invite.expires'), t('dash.col.actions')],
  rows: view.invitations,
  empty: t('dash.invite.pending_empty'),
  row: (i) => html`<tr data-invitation-id="${i.id}">
  <th scope="row">${i.email}</th>
  <td>${roleName(page, i.role)}</td>
  <td>${i.invited_by}</td>
  <td>${formatTime(page, i.expires_at)}</td>
  <td class="actions-cell">${i.role === 'owner' && !view.canOwner ? html`<p class="muted">${t('dash.invite.owner_only')}</p>` : rowButton(chrome, { method: 'post', action: url(INVITATION_REVOKE_PATH, { project }), hidden: { id: i.id }, label: t('dash.invite.revoke'), hiddenLabel: i.email, danger: true })}</td>
</tr>`,
})}
</section>`;
}

function mappingsPanel(page: DashboardPage, chrome: Chrome, view: MembersView): SafeHtml {
  const { t } = page;
  const project = view.project.id;
  const errors = view.errors;
  return html`<section class="panel" aria-labelledby="mappings-title">
<h2 id="mappings-title">${t('dash.mappings.title')}</h2>
<p class="hint">${t('dash.mappings.intro')}</p>
${table({
  id: 'mappings',
  className: 'mappings',
  caption: t('dash.mappings.caption', { project: view.project.name }),
  columns: [t('dash.mappings.group'), t('dash.mappings.source'), t('dash.members.role'), t('dash.mappings.origin'), t('dash.col.actions')],
  rows: view.mappings,
  empty: t('dash.mappings.empty'),
  row: (m) => html`<tr data-mapping-id="${m.id}">
  <th scope="row"><code>${m.group}</code></th>
  <td><code>${m.source}</code></td>
  <td>${roleName(page, m.role)}</td>
  <td>${t(`dash.mappings.origin.${m.origin}`)}</td>
  <td>${m.origin === 'api' ? rowButton(chrome, { method: 'get', action: MAPPING_DELETE_PATH, hidden: { project, id: m.id }, label: t('dash.mappings.delete'), hiddenLabel: m.group, danger: true }) : ''}</td>
</tr>`,
})}
<h3 id="mapping-add-title">${t('dash.mappings.add')}</h3>
${view.sources.length ? csrfForm(chrome, { action: url(MAPPING_ADD_PATH, { project }), className: 'stack', novalidate: true, labelledBy: 'mapping-add-title' }, html`
  <div class="field-row">
    ${selectField({ id: 'mapping-source', name: 'source', label: t('dash.mappings.source'), errors, options: options(view.sources.map((s) => ({ value: s, label: s })), view.mappingForm.source) })}
    ${textField({ id: 'mapping-group', name: 'group', label: t('dash.mappings.group'), hint: t('dash.mappings.group_hint'), value: view.mappingForm.group, errors, attrs: { maxlength: 1000 } })}
    ${selectField({ id: 'mapping-role', name: 'role', label: t('dash.members.role'), errors, options: roleOptions(page, offeredRoles(view.canOwner), view.mappingForm.role || 'viewer') })}
  </div>
  <div><button type="submit" class="secondary">${t('dash.mappings.preview')}</button></div>`) : html`<p class="empty">${t('dash.mappings.no_sources')}</p>`}
</section>`;
}

export function membersPage(page: DashboardPage, chrome: Chrome, view: MembersView): string {
  const { t } = page;
  return layout(page, chrome, t('dash.members.title'), html`
<h1>${t('dash.members.title')}</h1>
<p class="lead">${t('dash.members.intro', { project: view.project.name })}</p>
${messages({ notice: view.notice, caution: view.caution, error: view.errors.member })}
${view.created ? createdInvitation(page, view.created, view.project.id) : ''}
${membersTable(page, chrome, view)}

${invitePanel(page, chrome, view)}

${mappingsPanel(page, chrome, view)}`);
}

export interface PreviewChange {
  email: string | null;
  user_id: string;
  project: string;
  from: string | null;
  to: string | null;
}

/** Confirmation of adding (`form` set) or deleting (`mapping` set) a role mapping, with the preview. */
export function mappingConfirmPage(page: DashboardPage, chrome: Chrome, view: { project: ProjectRef; mode: 'add' | 'delete'; mapping: { id?: string; source: string; group: string; role: string }; changes: PreviewChange[]; error?: string | undefined }): string {
  const { t } = page;
  const project = view.project.id;
  const m = view.mapping;
  const adding = view.mode === 'add';
  return confirmationPage(page, chrome, {
    title: t(adding ? 'dash.mappings.confirm_add_title' : 'dash.mappings.confirm_delete_title'),
    error: view.error,
    danger: !adding,
    body: html`${facts([
  [t('dash.mappings.source'), html`<code>${m.source}</code>`],
  [t('dash.mappings.group'), html`<code>${m.group}</code>`],
  [t('dash.members.role'), roleName(page, m.role)],
])}
<h2>${t('dash.mappings.changes')}</h2>
${table({
  id: 'preview',
  className: 'preview',
  caption: t('dash.mappings.changes'),
  captionHidden: true,
  columns: [t('dash.members.person'), t('dash.project'), t('dash.mappings.from'), t('dash.mappings.to')],
  rows: view.changes,
  empty: t('dash.mappings.no_changes'),
  row: (c) => html`<tr><th scope="row">${c.email ?? c.user_id}</th><td>${c.project}</td><td>${roleName(page, c.from)}</td><td><strong>${roleName(page, c.to)}</strong></td></tr>`,
})}`,
    action: url(adding ? MAPPING_ADD_PATH : MAPPING_DELETE_PATH, { project }),
    formClass: 'stack confirm-form',
    hidden: adding ? { confirm: 'yes', source: m.source, group: m.group, role: m.role } : { confirm: 'yes', id: m.id ?? '' },
    submit: t(adding ? 'dash.mappings.confirm' : 'dash.mappings.confirm_delete'),
    cancel: { href: url(MEMBERS_PATH, { project }), label: t('dash.mappings.cancel') },
  });
}
