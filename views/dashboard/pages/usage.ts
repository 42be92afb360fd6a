/** A key's verifications per day by outcome: a server-drawn stacked bar chart and the same numbers as a table. */
import { html, type SafeHtml } from '../../html.ts';
import { VERIFY_OUTCOMES } from '../../../src/keys/index.ts';
import { formatTime, layout, table, type Chrome, type DashboardPage, type ProjectRef } from '../components.ts';
import { API_ACCESS_PATH, url } from '../routes.ts';
import { statusBadge, type KeyRow } from './api-access.ts';

/** The outcomes drawn, in the order KeyService checks them (src/keys: VERIFY_OUTCOMES). */
export const USAGE_OUTCOMES = VERIFY_OUTCOMES;
export type UsageOutcome = (typeof USAGE_OUTCOMES)[number];

export interface UsageView {
  project: ProjectRef;
  key: KeyRow;
  days: Array<{ date: string; counts: Record<UsageOutcome, number>; total: number }>;
  last_used_at: string | null;
}

/** "Nice" axis maximum: 1, 2, 5 × 10ⁿ at or above the largest day. */
export function axisMax(value: number): number {
  if (value <= 0) return 1;
  const base = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (m * base >= value) return m * base;
  return 10 * base;
}

/** A server-side stacked bar chart (one bar per day), no script; the table below holds the same numbers. */
export function usageChart(page: DashboardPage, view: UsageView): SafeHtml {
  const { t } = page;
  const W = 720, H = 260, left = 44, right = 8, top = 12, bottom = 36;
  const plotW = W - left - right, plotH = H - top - bottom;
  const max = axisMax(Math.max(0, ...view.days.map((d) => d.total)));
  const slot = plotW / Math.max(1, view.days.length);
  const barW = Math.max(2, slot * 0.7);
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const total = view.days.reduce((a, d) => a + d.total, 0);
  const label = t('dash.usage.chart_label', { name: view.key.name, days: view.days.length, total });
  const ticks = [0, max / 2, max];
  const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
  return html`<figure class="chart">
<svg role="img" viewBox="0 0 ${W} ${H}" width="100%" preserveAspectRatio="xMidYMid meet" class="usage-chart" aria-label="${label}">
<title>${label}</title>
${ticks.map((v) => html`<g class="tick"><line x1="${left}" x2="${W - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}"></line><text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text></g>`)}
${view.days.map((d, i) => {
  const x = left + i * slot + (slot - barW) / 2;
  let acc = 0;
  return html`<g class="bar" data-date="${d.date}">${USAGE_OUTCOMES.filter((o) => d.counts[o] > 0).map((o) => {
    const y0 = y(acc), y1 = y(acc + d.counts[o]);
    acc += d.counts[o];
    return html`<rect class="o-${o}" x="${x.toFixed(1)}" y="${y1.toFixed(1)}" width="${barW.toFixed(1)}" height="${Math.max(0.5, y0 - y1).toFixed(1)}"><title>${d.date}: ${t(`dash.verify.${o}`)} ${d.counts[o]}</title></rect>`;
  })}${i % 5 === 0 || i === view.days.length - 1 ? html`<text class="day" x="${(x + barW / 2).toFixed(1)}" y="${H - bottom + 16}" text-anchor="middle">${d.date.slice(5)}</text>` : ''}</g>`;
})}
</svg>
<figcaption>
<ul class="legend" aria-label="${t('dash.usage.legend')}">${USAGE_OUTCOMES.map((o) => html`<li><span class="swatch o-${o}" aria-hidden="true"></span>${t(`dash.verify.${o}`)}</li>`)}</ul>
</figcaption>
</figure>`;
}

export function usagePage(page: DashboardPage, chrome: Chrome, view: UsageView): string {
  const { t } = page;
  const title = t('dash.usage.title', { name: view.key.name });
  const total = view.days.reduce((a, d) => a + d.total, 0);
  const shown = USAGE_OUTCOMES.filter((o) => view.days.some((d) => d.counts[o] > 0));
  return layout(page, chrome, title, html`
<h1>${title}</h1>
<p class="lead">${t('dash.usage.intro', { days: view.days.length })}</p>
<p>${t('dash.usage.last_used')} ${formatTime(page, view.last_used_at)} · <code>${view.key.prefix}…</code> ${statusBadge(page, view.key.status)}</p>
${total === 0 ? html`<p class="empty">${t('dash.usage.none', { days: view.days.length })}</p>` : html`<section class="panel">
${usageChart(page, view)}
</section>
${table({
  id: 'usage',
  className: 'usage',
  caption: t('dash.usage.caption', { name: view.key.name }),
  columns: [t('dash.usage.date'), ...shown.map((o) => t(`dash.verify.${o}`)), t('dash.usage.total')],
  rows: view.days.filter((d) => d.total > 0),
  empty: '',
  row: (d) => html`<tr><th scope="row"><time datetime="${d.date}">${d.date}</time></th>${shown.map((o) => html`<td>${d.counts[o]}</td>`)}<td>${d.total}</td></tr>`,
})}`}
<p><a href="${url(API_ACCESS_PATH, { project: view.project.id })}">${t('dash.usage.back')}</a></p>`);
}
