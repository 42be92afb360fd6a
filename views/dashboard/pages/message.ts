/** A page that only says something: signed out, an error, a refusal; with links onward. */
import { html } from '../../html.ts';
import { layout, type Chrome, type DashboardPage } from '../components.ts';

export function messagePage(page: DashboardPage, chrome: Chrome, view: { title: string; body: string; links?: Array<{ href: string; label: string }>; alert?: boolean }): string {
  return layout(page, chrome, view.title, html`
<h1>${view.title}</h1>
${view.alert ? html`<div class="alert" role="alert">${view.body}</div>` : html`<p>${view.body}</p>`}
${view.links?.length ? html`<ul class="links">${view.links.map((l) => html`<li><a href="${l.href}">${l.label}</a></li>`)}</ul>` : ''}`);
}
