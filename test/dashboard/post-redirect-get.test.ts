import path from 'node:path';
import { open } from 'lmdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import { startAuthServer, TEST_PASSWORD, type AuthServer } from '../support/auth-server.ts';
import { api, bootstrap, cli, type Bootstrapped } from '../support/admin.ts';
import { launchBrowser } from '../support/browser.ts';
import { expectAccessible, languageOptions, shot, signInToDashboard } from '../support/pages.ts';

const API_ACCESS = '/dashboard/settings/security/api-access';
const WEBHOOKS = '/dashboard/settings/webhooks';
const MEMBERS = '/dashboard/settings/members';
const KEY = /lt_live_[0-9A-Za-z]{38}/;

type Lang = 'en' | 'ru';
const TEXT = {
  en: {
    keyName: 'Name', createKey: 'Create key', newKey: 'New API key', keyGone: 'A new key’s secret is shown only once',
    hookUrl: 'Endpoint URL', addHook: 'Add endpoint', secret: /^Signing secret/, hookGone: 'A new endpoint’s signing secret is shown only once',
    email: 'Email', invite: 'Add to project', link: 'Invitation link', inviteGone: 'An invitation link is shown only once',
  },
  ru: {
    keyName: 'Название', createKey: 'Создать ключ', newKey: 'Новый API-ключ', keyGone: 'Секрет нового ключа показывается только один раз',
    hookUrl: 'Адрес (URL)', addHook: 'Добавить адрес', secret: /^Секрет подписи/, hookGone: 'Секрет подписи нового адреса показывается только один раз',
    email: 'Электронная почта', invite: 'Добавить в проект', link: 'Ссылка-приглашение', inviteGone: 'Ссылка-приглашение показывается только один раз',
  },
} as const;

/**
 * Post/redirect/get on the dashboard: a reload, Back or Forward after creating a key, a webhook endpoint
 * or an invitation makes nothing twice (counted through /v1), and the secret is shown once, to the
 * session that made it only.
 */
describe('dashboard: no double submission, secrets shown once', () => {
  let server: AuthServer;
  let browser: Browser;
  let boot: Bootstrapped;
  let admin: ReturnType<typeof api>;

  beforeAll(async () => {
    server = await startAuthServer();
    boot = bootstrap(server, 'Acme');
    admin = api(server.url, boot.key.key);
    const out = cli(server, ['users', 'add', '--email', 'owner@example.com', '--name', 'Owner', '--project', boot.project.id, '--role', 'owner', '--password-stdin'], TEST_PASSWORD);
    expect(out.status, out.stderr).toBe(0);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await server?.cleanup();
  });

  async function signedIn(lang: Lang = 'en'): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext(languageOptions(lang));
    const page = await context.newPage();
    await signInToDashboard(page, server.url, 'owner@example.com', lang);
    return { context, page };
  }

  /** Everything the server's embedded store holds, as text: what someone with read access to it sees. */
  async function storedText(): Promise<string> {
    const root = open({ path: path.join(path.dirname(server.configPath), 'data'), encoding: 'json', maxDbs: 4, readOnly: true });
    try {
      const kv = root.openDB<unknown, string>({ name: 'kv', encoding: 'json' });
      return JSON.stringify([...kv.getRange()].map(({ key, value }) => [key, value]));
    } finally {
      await root.close();
    }
  }

  const keysNamed = async (name: string) => (await admin<{ keys: Array<{ name: string }> }>('GET', `/v1/keys?project_id=${boot.project.id}`)).body.keys.filter((k) => k.name === name);
  const webhooksTo = async (url: string) => (await admin<{ webhooks: Array<{ url: string }> }>('GET', `/v1/webhooks?project_id=${boot.project.id}`)).body.webhooks.filter((w) => w.url === url);
  const invitationsFor = async (email: string) => (await admin<{ invitations: Array<{ email: string }> }>('GET', `/v1/projects/${boot.project.id}/invitations`)).body.invitations.filter((i) => i.email === email);

  /** Submits a form: the post answers 303 to `path` with a flash id, the secret in neither URL; returns the redirect target. */
  async function submit(page: Page, button: string, path: string): Promise<string> {
    const [post] = await Promise.all([
      page.waitForResponse((r: Response) => r.request().method() === 'POST' && new URL(r.url()).pathname.startsWith(path)),
      page.getByRole('button', { name: button }).click(),
    ]);
    expect(post.status()).toBe(303);
    expect(post.headers()['cache-control']).toBe('no-store');
    const location = new URL(post.headers().location!, server.url);
    expect(location.pathname).toBe(path);
    expect(location.searchParams.get('project')).toBe(boot.project.id);
    expect(location.searchParams.get('flash')).toMatch(/^[\w-]{43}$/);
    await page.waitForURL((u) => u.href === location.href);
    return location.href;
  }

  /**
   * Reload, Back (to the page before the post), Forward (to the flash URL) and reload again: never a
   * second post, never the secret again, the "shown once" notice where the flash was named.
   */
  async function revisit(page: Page, secret: string, gone: string, name: string): Promise<void> {
    const posts: string[] = [];
    const onRequest = (r: { method(): string; url(): string }) => {
      if (r.method() === 'POST') posts.push(r.url());
    };
    page.on('request', onRequest);
    await page.reload();
    expect(await page.content()).not.toContain(secret);
    await page.getByText(gone).waitFor();
    await shot(page, `${name}-reloaded`);
    await page.goBack();
    expect(new URL(page.url()).searchParams.has('flash')).toBe(false);
    expect(await page.content()).not.toContain(secret);
    await page.reload();
    await page.goForward();
    expect(new URL(page.url()).searchParams.has('flash')).toBe(true);
    expect(await page.content()).not.toContain(secret);
    await page.reload();
    expect(await page.content()).not.toContain(secret);
    page.off('request', onRequest);
    expect(posts).toEqual([]);
  }

  for (const lang of ['en', 'ru'] as const) {
    it(`creates one key, one webhook endpoint and one invitation, whatever the reloads and Back (${lang})`, { timeout: 180_000 }, async () => {
      const L = TEXT[lang];
      const { context, page } = await signedIn(lang);

      // A key: shown once after the redirect, and it works.
      const keyName = `prg-key-${lang}`;
      await page.goto(`${server.url}${API_ACCESS}?project=${boot.project.id}`);
      await page.getByLabel(L.keyName, { exact: true }).fill(keyName);
      const keyTarget = await submit(page, L.createKey, API_ACCESS);
      const key = await page.getByRole('textbox', { name: new RegExp(`^${L.newKey}`) }).inputValue();
      expect(key).toMatch(KEY);
      expect(keyTarget).not.toContain(key);
      const verified = await fetch(`${server.url}/v1/keys/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }) });
      expect(((await verified.json()) as { valid: boolean }).valid).toBe(true);
      await expectAccessible(page, `key created ${lang}`);
      await shot(page, `prg-key-created-${lang}`);
      await revisit(page, key, L.keyGone, `prg-key-${lang}`);
      await expectAccessible(page, `key shown once ${lang}`);
      expect(await keysNamed(keyName)).toHaveLength(1);

      // A webhook endpoint: its signing secret shown once.
      const hookUrl = `http://127.0.0.1:9/prg-${lang}`;
      await page.goto(`${server.url}${WEBHOOKS}?project=${boot.project.id}`);
      await page.getByLabel(L.hookUrl).fill(hookUrl);
      await submit(page, L.addHook, WEBHOOKS);
      const secret = await page.getByRole('textbox', { name: L.secret }).inputValue();
      expect(secret.length).toBeGreaterThan(20);
      await shot(page, `prg-webhook-created-${lang}`);
      await revisit(page, secret, L.hookGone, `prg-webhook-${lang}`);
      expect(await webhooksTo(hookUrl)).toHaveLength(1);

      // An invitation: its link shown once, and it opens.
      const email = `prg-${lang}@example.com`;
      await page.goto(`${server.url}${MEMBERS}?project=${boot.project.id}`);
      await page.getByLabel(L.email, { exact: true }).fill(email);
      await submit(page, L.invite, MEMBERS);
      const link = await page.getByRole('textbox', { name: L.link }).inputValue();
      expect(link).toMatch(new RegExp(`^${server.url}/invitations/[\\w-]{32}$`));
      await shot(page, `prg-invitation-created-${lang}`);
      await revisit(page, link.split('/').pop()!, L.inviteGone, `prg-invitation-${lang}`);
      await expectAccessible(page, `invitation shown once ${lang}`);
      expect(await invitationsFor(email)).toHaveLength(1);
      expect((await fetch(link)).status).toBe(200);

      // A rotation follows the same path: one new secret, shown once.
      await page.goto(`${server.url}${API_ACCESS}?project=${boot.project.id}`);
      const rotate = lang === 'en' ? `Rotate ${keyName}` : `Заменить ${keyName}`;
      await submit(page, rotate, API_ACCESS);
      const rotated = await page.getByRole('textbox', { name: new RegExp(`^${L.newKey}`) }).inputValue();
      expect(rotated).toMatch(KEY);
      expect(rotated).not.toBe(key);
      await revisit(page, rotated, L.keyGone, `prg-rotated-${lang}`);
      expect(await keysNamed(keyName)).toHaveLength(2); // the rotated one and its successor, no third
      await context.close();
    });
  }

  it('a validation error is still a 400 with the form as typed, no redirect, nothing made', async () => {
    const { context, page } = await signedIn();
    await page.goto(`${server.url}${API_ACCESS}?project=${boot.project.id}`);
    await page.getByLabel('Name', { exact: true }).fill('bad-ttl');
    await page.getByLabel('Expires in (days)').fill('99999');
    const [post] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Create key' }).click(),
    ]);
    expect(post.status()).toBe(400);
    expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('bad-ttl');
    expect(new URL(page.url()).searchParams.has('flash')).toBe(false);
    expect(await keysNamed('bad-ttl')).toEqual([]);
    await context.close();
  });

  it('the flash is bound to the session, its page and its project, and taken once when two tabs race', { timeout: 180_000 }, async () => {
    const { context: mine, page } = await signedIn();
    // The same person signed in again in another browser: another session.
    const { context: theirs, page: other } = await signedIn();
    const anonymous = await browser.newContext();

    await page.goto(`${server.url}${API_ACCESS}?project=${boot.project.id}`);
    const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
    const post = async (name: string) => {
      const response = await mine.request.post(`${server.url}${API_ACCESS}?project=${boot.project.id}`, { form: { _csrf: csrf, name, scopes: 'read:logs', environment: 'live' }, headers: { origin: server.url }, maxRedirects: 0 });
      expect(response.status()).toBe(303);
      return new URL(response.headers().location!, server.url);
    };

    // Waiting for its page, the secret is in the store only sealed (as webhook secrets are), never in clear.
    const target = await post('bound-to-session');
    const waiting = await storedText();
    expect(waiting).toContain(`dashboard:flash:{`);
    expect(waiting).not.toMatch(KEY);
    // Another session opening the URL first gets nothing (and is told it was shown once); it takes nothing either.
    const stolen = await other.goto(target.href);
    expect(stolen?.status()).toBe(200);
    expect(await other.content()).not.toMatch(KEY);
    await other.getByText('A new key’s secret is shown only once').waitFor();
    // No session at all: the sign-in page, no secret.
    const nobody = await anonymous.request.get(target.href, { maxRedirects: 0 });
    expect(nobody.status()).toBe(302);
    expect(await nobody.text()).not.toMatch(KEY);
    // The flash is for the keys page of this project: another page or project neither shows nor takes it.
    const sub = await admin<{ id: string }>('POST', '/v1/projects', { name: 'Acme Sub', parent_id: boot.project.id });
    expect(sub.status).toBe(201);
    const flash = target.searchParams.get('flash')!;
    for (const elsewhere of [`${WEBHOOKS}?project=${boot.project.id}&flash=${flash}`, `${MEMBERS}?project=${boot.project.id}&flash=${flash}`, `${API_ACCESS}?project=${sub.body.id}&flash=${flash}`]) {
      const response = await mine.request.get(`${server.url}${elsewhere}`, { maxRedirects: 0 });
      expect(response.status(), elsewhere).toBe(200);
      expect(await response.text(), elsewhere).not.toMatch(KEY);
    }
    // A forged or malformed flash id shows nothing.
    for (const forged of ['x'.repeat(43), '../../dashboard:session', '']) {
      const response = await mine.request.get(`${server.url}${API_ACCESS}?project=${boot.project.id}&flash=${encodeURIComponent(forged)}`, { maxRedirects: 0 });
      expect(response.status()).toBe(200);
      expect(await response.text()).not.toMatch(KEY);
    }
    // Its own session still gets it, once; then the flash is gone from the store.
    await page.goto(target.href);
    const key = await page.getByRole('textbox', { name: /^New API key/ }).inputValue();
    expect(key).toMatch(KEY);
    await page.reload();
    expect(await page.content()).not.toMatch(KEY);
    const after = await storedText();
    expect(after).not.toContain(key);
    expect(after).not.toContain(`dashboard:flash:{`);

    // Two tabs of the session racing for one flash: exactly one shows the secret.
    const raced = await post('two-tabs');
    const bodies = await Promise.all(Array.from({ length: 6 }, () => mine.request.get(raced.href, { maxRedirects: 0 }).then((r) => r.text())));
    expect(bodies.filter((b) => KEY.test(b))).toHaveLength(1);
    expect(await keysNamed('two-tabs')).toHaveLength(1);

    await mine.close();
    await theirs.close();
    await anonymous.close();
  });
});
