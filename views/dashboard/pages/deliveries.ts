/** A webhook endpoint's delivery history, with each attempt, and redelivery of a finished delivery. */
import { html } from '../../html.ts';
import type { DeliveryStatus } from '../../../src/webhooks/index.ts';
import { formatTime, layout, messages, rowButton, table, type Chrome, type DashboardPage, type ProjectRef } from '../components.ts';
import { REDELIVER_PATH, WEBHOOKS_PATH, url } from '../routes.ts';
import type { WebhookRow } from './webhooks.ts';

export interface DeliveryRow {
  id: string;
  event_type: string;
  status: DeliveryStatus;
  attempts: Array<{ at: string; status_code: number | null; error: string | null; duration_ms: number }>;
  next_attempt_at: string | null;
  created_at: string;
}

export function deliveriesPage(page: DashboardPage, chrome: Chrome, view: { project: ProjectRef; webhook: WebhookRow; deliveries: DeliveryRow[]; notice?: string | undefined; error?: string | undefined }): string {
  const { t } = page;
  const project = view.project.id;
  const title = t('dash.wh.del_title', { url: view.webhook.url });
  return layout(page, chrome, title, html`
<h1 class="wrap">${title}</h1>
<p class="lead">${t('dash.wh.del_intro')}</p>
${messages(view)}
${table({
  id: 'del',
  className: 'deliveries',
  caption: t('dash.wh.del_caption', { url: view.webhook.url }),
  columns: [t('dash.col.time'), t('dash.wh.del_event'), t('dash.wh.del_status'), t('dash.wh.del_attempts'), t('dash.col.actions')],
  rows: view.deliveries,
  empty: t('dash.wh.del_empty'),
  row: (d) => html`<tr data-delivery-id="${d.id}">
  <td>${formatTime(page, d.created_at)}</td>
  <th scope="row"><code>${d.event_type}</code><br><code class="muted">${d.id}</code></th>
  <td><span class="badge delivery-${d.status}">${t(`dash.wh.status.${d.status}`)}</span>${d.status === 'pending' && d.next_attempt_at ? html`<br><span class="muted">${t('dash.wh.del_next')}: ${formatTime(page, d.next_attempt_at)}</span>` : ''}</td>
  <td><ol class="attempts">${d.attempts.map((a) => html`<li>${formatTime(page, a.at)} — ${a.status_code !== null ? html`<strong>HTTP ${a.status_code}</strong>` : html`<strong>${t('dash.wh.del_no_response')}</strong>`}${a.error ? html` <span class="muted">(${a.error})</span>` : ''} · ${a.duration_ms} ms</li>`)}</ol></td>
  <td>${d.status !== 'pending' ? rowButton(chrome, { method: 'post', action: url(REDELIVER_PATH, { project }), hidden: { id: view.webhook.id, delivery: d.id }, label: t('dash.wh.redeliver'), hiddenLabel: d.id }) : ''}</td>
</tr>`,
})}
<p><a href="${url(WEBHOOKS_PATH, { project })}">${t('dash.wh.back')}</a></p>`);
}
