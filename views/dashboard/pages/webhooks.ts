/** Webhooks: the project's endpoints, the create form (the signing secret shown once) and delete. */
import { html } from '../../html.ts';
import type { WebhookView } from '../../../src/webhooks/index.ts';
import {
  checkboxGroup,
  confirmationPage,
  csrfForm,
  errorSummary,
  facts,
  formatTime,
  layout,
  messages,
  rowButton,
  secretShownOnce,
  table,
  textField,
  type Chrome,
  type DashboardPage,
  type FieldErrors,
  type ProjectRef,
} from '../components.ts';
import { DELIVERIES_PATH, WEBHOOK_DELETE_PATH, WEBHOOKS_PATH, url } from '../routes.ts';

export type WebhookRow = Pick<WebhookView, 'id' | 'url' | 'events' | 'description' | 'created_at'>;

export interface WebhookForm {
  url: string;
  events: string[];
  description: string;
}

export interface WebhooksView {
  project: ProjectRef;
  webhooks: WebhookRow[];
  /** The event types an endpoint may subscribe to (src/webhooks: EVENT_TYPES). */
  eventTypes: readonly string[];
  form: WebhookForm;
  errors: FieldErrors;
  created?: { url: string; secret: string } | undefined;
  notice?: string | undefined;
  /** Not an error, but not good news: a one-time secret asked for again (post/redirect/get flash). */
  caution?: string | undefined;
}

const WEBHOOK_ANCHORS: Record<string, string> = { url: 'wh-url', events: 'wh-events', description: 'wh-description' };

export function webhooksPage(page: DashboardPage, chrome: Chrome, view: WebhooksView): string {
  const { t } = page;
  const project = view.project.id;
  const { form, errors } = view;
  return layout(page, chrome, t('dash.wh.title'), html`
<h1>${t('dash.wh.title')}</h1>
<p class="lead">${t('dash.wh.intro', { project: view.project.name })}</p>
${messages(view)}
${view.created ? secretShownOnce(page, {
  id: 'new-secret',
  panel: 'created',
  title: t('dash.wh.secret_title'),
  warning: t('dash.wh.secret_warning'),
  label: `${t('dash.wh.secret_label')} — ${view.created.url}`,
  value: view.created.secret,
  done: { href: url(WEBHOOKS_PATH, { project }), label: t('dash.wh.done') },
}) : ''}
${table({
  id: 'wh',
  className: 'webhooks',
  caption: t('dash.wh.caption', { project: view.project.name }),
  columns: [t('dash.wh.url'), t('dash.wh.events'), t('dash.wh.created'), t('dash.col.actions')],
  rows: view.webhooks,
  empty: t('dash.wh.empty'),
  row: (w) => html`<tr data-webhook-id="${w.id}">
  <th scope="row"><code class="wrap">${w.url}</code>${w.description ? html`<br><span class="muted">${w.description}</span>` : ''}</th>
  <td><ul class="scopes">${w.events.map((e) => html`<li><code>${e}</code></li>`)}</ul></td>
  <td>${formatTime(page, w.created_at)}</td>
  <td class="actions-cell">
    <p class="row-link"><a href="${url(DELIVERIES_PATH, { project, id: w.id })}">${t('dash.wh.deliveries')}<span class="visually-hidden"> ${w.url}</span></a></p>
    ${rowButton(chrome, { method: 'get', action: WEBHOOK_DELETE_PATH, hidden: { project, id: w.id }, label: t('dash.wh.delete'), hiddenLabel: w.url, danger: true })}
  </td>
</tr>`,
})}
<section class="panel" aria-labelledby="wh-create-title">
<h2 id="wh-create-title">${t('dash.wh.create')}</h2>
${errorSummary({ intro: t('dash.wh.errors'), errors, anchors: WEBHOOK_ANCHORS, fallback: 'wh-url' })}
${csrfForm(chrome, { action: url(WEBHOOKS_PATH, { project }), className: 'stack', novalidate: true }, html`
  ${textField({ id: 'wh-url', name: 'url', label: t('dash.wh.url'), hint: t('dash.wh.url_hint'), value: form.url, errors, attrs: { inputmode: 'url', maxlength: 2000, spellcheck: 'false' } })}
  ${checkboxGroup({ id: 'wh-events', name: 'events', legend: t('dash.wh.events'), choices: view.eventTypes.map((e) => ({ value: e, label: e })), checked: form.events, errors, idOf: (e) => `event-${e.replace('.', '-')}` })}
  ${textField({ id: 'wh-description', name: 'description', label: t('dash.wh.description'), value: form.description, errors, attrs: { maxlength: 500 } })}
  <div><button type="submit">${t('dash.wh.submit')}</button></div>`)}
</section>`);
}

export function webhookDeletePage(page: DashboardPage, chrome: Chrome, view: { project: ProjectRef; webhook: WebhookRow }): string {
  const { t } = page;
  return confirmationPage(page, chrome, {
    title: t('dash.wh.delete_title', { url: view.webhook.url }),
    titleClass: 'wrap',
    danger: true,
    body: html`<p>${t('dash.wh.delete_body')}</p>
${facts([
  [t('dash.wh.url'), html`<code class="wrap">${view.webhook.url}</code>`],
  [t('dash.wh.events'), view.webhook.events.join(', ')],
])}`,
    action: url(WEBHOOK_DELETE_PATH, { project: view.project.id }),
    hidden: { id: view.webhook.id },
    submit: t('dash.wh.delete_submit'),
    cancel: { href: url(WEBHOOKS_PATH, { project: view.project.id }), label: t('dash.revoke.cancel') },
  });
}
