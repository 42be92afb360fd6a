/**
 * A signed-in person who administers nothing: ask an owner, or, on a server nobody owns yet, the
 * operator's commands that make them the first owner.
 */
import { html } from '../../html.ts';
import { layout, type Chrome, type DashboardPage } from '../components.ts';
import { LOGIN_PATH, url } from '../routes.ts';

/** A word as the shell reads it: bare when plainly safe, otherwise in single quotes (a `'` written as `'\''`). */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Where the operator puts the organisation's name; quoted, so a pasted command fails with a clear message. */
export const ORGANISATION_PLACEHOLDER = '<organisation>';

/** The operator CLI commands that make `email` the first owner of an organisation (README: "First owner"). */
export function firstOwnerCommands(email: string): { bootstrap: string; owner: string } {
  const organisation = shellWord(ORGANISATION_PLACEHOLDER);
  return {
    bootstrap: `npm run --silent cli -- bootstrap --project ${organisation}`,
    owner: `npm run --silent cli -- users add --email ${shellWord(email)} --project ${organisation} --role owner`,
  };
}

export function noAccessPage(page: DashboardPage, chrome: Chrome, view: { email: string }): string {
  const { t } = page;
  const commands = firstOwnerCommands(view.email);
  // Wrapped, never scrolled sideways: a scrolling region would need to be focusable to be read.
  const command = (id: string, text: string) => html`<pre class="command" id="${id}"><code>${text}</code></pre>`;
  return layout(page, chrome, t('dash.no_access.title'), html`
<h1>${t('dash.no_access.title')}</h1>
<p>${t('dash.no_access.body', { email: view.email })}</p>
<ul class="links"><li><a href="${url(LOGIN_PATH, { prompt: 'login' })}">${t('dash.no_access.other')}</a></li></ul>
<section class="panel" aria-labelledby="first-owner-title">
<h2 id="first-owner-title">${t('dash.no_access.operator_title')}</h2>
<p>${t('dash.no_access.operator_intro', { email: view.email })}</p>
<ol class="steps">
  <li><p>${t('dash.no_access.operator_bootstrap')}</p>${command('bootstrap-command', commands.bootstrap)}</li>
  <li><p>${t('dash.no_access.operator_owner', { email: view.email })}</p>${command('owner-command', commands.owner)}</li>
</ol>
<p class="hint">${t('dash.no_access.operator_placeholder')}</p>
</section>`);
}
