import { describe, expect, it } from 'vitest';
import { html } from '../../views/html.ts';
import {
  checkboxField,
  checkboxGroup,
  confirmationPage,
  errorSummary,
  options,
  secretShownOnce,
  selectField,
  table,
  textField,
  textareaField,
  type DashboardPage,
} from '../../views/dashboard/components.ts';
import { dashboardTranslator } from '../../views/dashboard/i18n.ts';
import { en as dashboardEn } from '../../views/dashboard/i18n/en.ts';
import { ru as dashboardRu } from '../../views/dashboard/i18n/ru.ts';
import { en } from '../../views/i18n/en.ts';
import { ru } from '../../views/i18n/ru.ts';
import { url } from '../../views/dashboard/routes.ts';

const page: DashboardPage = { lang: 'en', t: dashboardTranslator('en'), here: '/dashboard' };
const FORGED = '"><script>alert(1)</script>';

describe('dashboard components', () => {
  it('a field wires its label, hint and error by id, and escapes what the person typed', () => {
    const out = textField({ id: 'key-name', name: 'name', label: 'Name', hint: 'What uses it', value: FORGED, errors: { name: 'Enter a name' }, attrs: { maxlength: 200, required: true } }).value;
    expect(out).toContain('<label for="key-name">Name</label>');
    expect(out).toContain('<p class="hint" id="key-name-hint">What uses it</p>');
    expect(out).toContain('aria-describedby="key-name-hint name-error"');
    expect(out).toContain('aria-invalid="true"');
    expect(out).toContain(' maxlength="200" required ');
    expect(out).toContain('<p class="field-error" id="name-error">');
    expect(out).not.toContain('<script>');
    expect(out).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
  });

  it('a field without an error is neither invalid nor described by an error', () => {
    const out = textareaField({ id: 'key-ip', name: 'ip_allowlist', label: 'IP', value: '', errors: {} }).value;
    expect(out).not.toContain('aria-invalid');
    expect(out).not.toContain('aria-describedby');
    expect(out).not.toContain('field-error');
  });

  it('a field can report its error under another key than its name (two forms, one name)', () => {
    const out = selectField({ id: 'invite-role', name: 'role', error: 'invite_role', label: 'Role', errors: { role: 'other form', invite_role: 'Not allowed' }, options: options([{ value: 'admin', label: 'Admin' }], 'admin') }).value;
    expect(out).toContain('name="role"');
    expect(out).toContain('id="invite_role-error"');
    expect(out).toContain('Not allowed');
    expect(out).not.toContain('other form');
    expect(out).toContain('<option value="admin" selected>Admin</option>');
  });

  it('a checkbox group ticks the chosen values and points the fieldset at its error', () => {
    const out = checkboxGroup({ id: 'wh-events', name: 'events', legend: 'Events', choices: ['key.created', 'key.revoked'].map((e) => ({ value: e, label: e })), checked: ['key.revoked'], errors: { events: 'Choose one' }, idOf: (e) => `event-${e.replace('.', '-')}` }).value;
    expect(out).toContain('<fieldset class="field" id="wh-events" aria-describedby="events-error">');
    expect(out).toMatch(/id="event-key-created" name="events" value="key.created" >/);
    expect(out).toMatch(/id="event-key-revoked" name="events" value="key.revoked" checked>/);
  });

  it('a lone checkbox announces its error', () => {
    const out = checkboxField({ id: 'revoke-confirm', name: 'confirm', value: 'yes', checked: false, label: 'I understand', errors: { confirm: 'Tick the box' } }).value;
    expect(out).toContain('aria-describedby="confirm-error"');
    expect(out).toContain('id="confirm-error" role="alert"');
  });

  it('the error summary links each error to its field, and says nothing when there is none', () => {
    const out = errorSummary({ intro: 'Not saved', errors: { url: 'Bad URL', other: 'Odd' }, anchors: { url: 'wh-url' }, fallback: 'wh-first' }).value;
    expect(out).toContain('<a href="#wh-url">Bad URL</a>');
    expect(out).toContain('<a href="#wh-first">Odd</a>');
    expect(errorSummary({ intro: 'Not saved', errors: {}, anchors: {}, fallback: 'x' }).value).toBe('');
  });

  it('a table is a named region, or the empty sentence without rows', () => {
    const out = table({ id: 'keys', caption: 'Keys of <P>', columns: ['Name', html`<th scope="col">Sorted</th>`], rows: [{ n: FORGED }], row: (r) => html`<tr><td>${r.n}</td></tr>`, empty: 'None' }).value;
    expect(out).toContain('role="region" aria-labelledby="keys-caption" tabindex="0"');
    expect(out).toContain('<caption id="keys-caption">Keys of &lt;P&gt;</caption>');
    expect(out).toContain('<th scope="col">Name</th><th scope="col">Sorted</th>');
    expect(out).not.toContain('<script>');
    expect(table({ id: 'keys', caption: 'c', columns: [], rows: [], row: () => html``, empty: 'None yet' }).value).toBe('<p class="empty">None yet</p>');
  });

  it('a confirmation posts with the CSRF token and the hidden fields, and offers a way back', () => {
    const out = confirmationPage(page, { csrf: 'TOKEN' }, { title: 'Delete?', danger: true, body: html`<p>Gone for good</p>`, action: url('/dashboard/x/delete', { project: 'p 1' }), hidden: { id: FORGED }, submit: 'Delete', cancel: { href: '/dashboard/x', label: 'Cancel' } });
    expect(out).toContain('<form method="post" action="/dashboard/x/delete?project=p+1"');
    expect(out).toContain('<input type="hidden" name="_csrf" value="TOKEN">');
    expect(out).toContain('<input type="hidden" name="id" value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">');
    expect(out).toContain('<section class="panel danger-zone">');
    expect(out).toContain('<a class="button secondary" href="/dashboard/x">Cancel</a>');
  });

  it('a secret shown once is read-only, described by its warning, with a Copy button for the script to reveal', () => {
    const out = secretShownOnce(page, { id: 'new-key', panel: 'created', title: 'Your key', warning: 'Copy it now', label: 'Key', value: 'lt_live_x', done: { href: '/dashboard', label: 'Done' } }).value;
    expect(out).toContain('<input id="new-key" type="text" readonly value="lt_live_x" aria-describedby="created-warning"');
    expect(out).toContain('<p class="warning" id="created-warning">');
    expect(out).toContain('data-copy="new-key"');
    expect(out).toContain('data-copy-status="new-key"');
  });
});

describe('message catalogues', () => {
  // tsc already refuses a catalogue that misses a key (Record<Key, string>); this says which one at run time too.
  it('every language has exactly the English keys, none left empty', () => {
    for (const [reference, other] of [[dashboardEn, dashboardRu], [en, ru]] as const) {
      expect(Object.keys(other).sort()).toEqual(Object.keys(reference).sort());
      expect(Object.entries(other).filter(([, v]) => !v.trim())).toEqual([]);
    }
  });
});
