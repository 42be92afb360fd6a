/** Revoke a key: what stops working, and a checkbox to confirm it. */
import { html } from '../../html.ts';
import { checkboxField, confirmationPage, facts, type Chrome, type DashboardPage, type ProjectRef } from '../components.ts';
import { API_ACCESS_PATH, REVOKE_PATH, url } from '../routes.ts';
import { statusBadge, type KeyRow } from './api-access.ts';

export function revokePage(page: DashboardPage, chrome: Chrome, view: { project: ProjectRef; key: KeyRow; error?: string | undefined }): string {
  const { t } = page;
  const { key } = view;
  return confirmationPage(page, chrome, {
    title: t('dash.revoke.title', { name: key.name }),
    danger: true,
    body: html`<p>${t('dash.revoke.body', { prefix: key.prefix })}</p>
${facts([
  [t('dash.col.name'), key.name],
  [t('dash.col.prefix'), html`<code>${key.prefix}…</code>`],
  [t('dash.col.scopes'), key.scopes.join(', ')],
  [t('dash.col.status'), statusBadge(page, key.status)],
])}`,
    action: url(REVOKE_PATH, { project: view.project.id }),
    hidden: { id: key.id },
    fields: checkboxField({ id: 'revoke-confirm', name: 'confirm', value: 'yes', checked: false, label: t('dash.revoke.confirm'), errors: view.error ? { confirm: view.error } : {} }),
    submit: t('dash.revoke.submit'),
    cancel: { href: url(API_ACCESS_PATH, { project: view.project.id }), label: t('dash.revoke.cancel') },
  });
}
