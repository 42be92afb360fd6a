import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { Browser, BrowserContext } from 'playwright-core';
import { ROOT, TEST_PASSWORD, startAuthServer, type AuthServer, type RawConfig } from '../support/auth-server.ts';
import { cli } from '../support/admin.ts';
import { launchBrowser } from '../support/browser.ts';
import { expectAccessible, languageOptions, shot, signInToDashboard } from '../support/pages.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { openStore } from '../../src/store/index.ts';
import { AuditLog } from '../../src/audit/index.ts';
import { MembershipRepository, ProjectRepository, UserRepository } from '../../src/directory/index.ts';

const API_ACCESS = '/dashboard/settings/security/api-access';
/** config/default.yaml's development account. */
const DEV_ADMIN = { email: 'admin@example.com', password: 'change-me-now' };

/**
 * The shipped configuration as `npm start` reads it, changed only where a test must: a free port on
 * 127.0.0.1 (the issuer with it) and a store of the test's own. No LOGTRACE_SECRET_KEY, as on a first trial.
 */
async function shippedConfig(): Promise<(port: number, store: RawConfig) => RawConfig> {
  const shipped = parseYaml(await readFile(path.join(ROOT, 'config/default.yaml'), 'utf8')) as RawConfig;
  return (port, store) => ({ ...shipped, issuer: `http://127.0.0.1:${port}`, port, host: '127.0.0.1', store });
}
const FIRST_RUN_ENV = { LOGTRACE_SECRET_KEY: '' };
const MADE = 'development.bootstrap_organisation: made organisation "Development" owned by admin@example.com';
/** The messages of a server's JSON log lines (other output ignored). */
function messages(output: string): string[] {
  return output.split('\n').flatMap((line) => {
    try {
      const parsed = JSON.parse(line) as { msg?: unknown };
      return typeof parsed.msg === 'string' ? [parsed.msg] : [];
    } catch {
      return [];
    }
  });
}
const count = (output: string, message: string) => messages(output).filter((m) => m.startsWith(message)).length;

describe('first run with config/default.yaml', () => {
  let server: AuthServer;
  let browser: Browser;

  beforeAll(async () => {
    const config = await shippedConfig();
    server = await startAuthServer({ env: FIRST_RUN_ENV, config: (port, dataDir) => config(port, { driver: 'embedded', path: dataDir }) });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await server?.cleanup();
  });

  async function newContext(lang: 'en' | 'ru' = 'en'): Promise<BrowserContext> {
    return browser.newContext(languageOptions(lang));
  }

  it('the development admin signs in to /dashboard and reaches API access; a restart makes nothing more', { timeout: 180_000 }, async () => {
    // The start-up warning names the setting, like the other development defaults; the organisation was made once.
    expect(messages(server.output())).toContain('configuration: development default (fine on localhost only): development.bootstrap_organisation: on the first start, organisation "Development" is made and admin@example.com becomes its owner');
    expect(count(server.output(), MADE)).toBe(1);

    const context = await newContext('en');
    const page = await context.newPage();
    await signInToDashboard(page, server.url, DEV_ADMIN.email, 'en', DEV_ADMIN.password);
    await page.getByRole('heading', { name: 'Choose a project' }).waitFor();
    expect(await page.locator('ul.projects a').allTextContents()).toEqual(['Development']);
    await page.getByRole('link', { name: 'Development' }).click();
    await page.getByRole('heading', { level: 1, name: 'API access' }).waitFor();
    expect(new URL(page.url()).pathname).toBe(API_ACCESS);
    // Owner: every scope is offered for a new key.
    for (const scope of ['read:logs', 'write:alerts', 'admin:projects']) expect(await page.getByLabel(scope, { exact: true }).count()).toBe(1);
    await expectAccessible(page, 'first run api access');
    await shot(page, 'first-run-api-access-en');
    await context.close();

    // Idempotent across restarts: the second start finds the work done.
    await server.stop();
    await server.start();
    expect(count(server.output(), MADE)).toBe(1);
    const again = await newContext('en');
    const second = await again.newPage();
    await signInToDashboard(second, server.url, DEV_ADMIN.email, 'en', DEV_ADMIN.password);
    await second.getByRole('heading', { name: 'Choose a project' }).waitFor();
    expect(await second.locator('ul.projects a').allTextContents()).toEqual(['Development']);
    await again.close();
  });

  it('the "no access" page names the exact commands that make the first owner; run as shown, they do', { timeout: 180_000 }, async () => {
    // An account with no role, and an address that needs HTML escaping and shell quoting.
    const email = "o'brien&ops@example.com";
    const made = cli(server, ['users', 'add', '--email', email, '--password-stdin'], TEST_PASSWORD);
    expect(made.status, made.stderr).toBe(0);
    const quoted = `'o'\\''brien&ops@example.com'`;
    const expected = {
      bootstrap: `npm run --silent cli -- bootstrap --project '<organisation>'`,
      owner: `npm run --silent cli -- users add --email ${quoted} --project '<organisation>' --role owner`,
    };

    for (const lang of ['en', 'ru'] as const) {
      const context = await newContext(lang);
      const page = await context.newPage();
      await signInToDashboard(page, server.url, email, lang);
      await page.getByRole('heading', { level: 1, name: lang === 'en' ? 'No access to the dashboard' : 'Нет доступа к панели' }).waitFor();
      await page.getByRole('heading', { level: 2, name: lang === 'en' ? 'Setting up this server?' : 'Настраиваете этот сервер?' }).waitFor();
      expect(await page.locator('#bootstrap-command').textContent()).toBe(expected.bootstrap);
      expect(await page.locator('#owner-command').textContent()).toBe(expected.owner);
      expect(await page.textContent('main')).toContain(lang === 'en' ? `makes ${email} the first owner` : `делает ${email} первым владельцем`);
      // As the server wrote it: escaped, never markup.
      const raw = await context.request.get(`${server.url}${API_ACCESS}`, { maxRedirects: 0 });
      expect(raw.status()).toBe(403);
      const html = await raw.text();
      expect(html).toContain('--email &#39;o&#39;\\&#39;&#39;brien&amp;ops@example.com&#39; --project &#39;&lt;organisation&gt;&#39; --role owner');
      expect(html).not.toContain("o'brien&ops");
      await expectAccessible(page, `no access ${lang}`);
      await shot(page, `no-access-first-owner-${lang}`);
      await context.close();
    }

    // The operator runs them exactly as shown (the shell reads the quoting), naming the organisation.
    const env = { ...process.env, LOGTRACE_CONFIG: server.configPath, ...FIRST_RUN_ENV };
    for (const command of [expected.bootstrap, expected.owner]) {
      const run = spawnSync('sh', ['-c', command.replaceAll(`'<organisation>'`, `'Ops Org'`)], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
      expect(run.status, `${command}\n${run.stderr}`).toBe(0);
    }
    const context = await newContext('en');
    const page = await context.newPage();
    await signInToDashboard(page, server.url, email);
    await page.getByRole('heading', { name: 'Choose a project' }).waitFor();
    // Owner of the organisation made for them, and of nothing else.
    expect(await page.locator('ul.projects a').allTextContents()).toEqual(['Ops Org']);
    await page.getByRole('link', { name: 'Ops Org' }).click();
    await page.getByRole('heading', { level: 1, name: 'API access' }).waitFor();
    await context.close();
  });
});

describe('first start of several nodes on one store at once', () => {
  let redis: RedisServer;
  const servers: AuthServer[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    for (const server of servers) {
      await server.stop();
      await server.cleanup();
    }
    await redis?.dispose();
  });

  it('makes exactly one organisation, owned by the development admin, audited once', { timeout: 180_000 }, async () => {
    const config = await shippedConfig();
    const store = { driver: 'redis', url: redis.url };
    servers.push(...(await Promise.all([1, 2, 3].map(() => startAuthServer({ env: FIRST_RUN_ENV, config: (port) => config(port, store) })))));
    const outputs = servers.map((s) => s.output()).join('\n');
    expect(count(outputs, MADE)).toBe(1);

    const opened = await openStore({ driver: 'redis', url: redis.url, prefix: 'lt:' });
    try {
      const roots = await new ProjectRepository(opened).roots();
      expect(roots.map((p) => p.name)).toEqual(['Development']);
      const admin = await new UserRepository(opened).findByEmail(DEV_ADMIN.email);
      expect(await new MembershipRepository(opened).membersOf(roots[0]!.id)).toEqual([expect.objectContaining({ user_id: admin!.id, role: 'owner' })]);
      const events = await new AuditLog(opened).list({ limit: 1000 });
      const bootstrapEvents = events.filter((e) => e.actor.id === 'development.bootstrap_organisation');
      expect(bootstrapEvents.map((e) => e.action).sort()).toEqual(['member.role_changed', 'project.created']);

      // A node restarted later finds the work done.
      await servers[0]!.stop();
      await servers[0]!.start();
      expect((await new ProjectRepository(opened).roots()).map((p) => p.name)).toEqual(['Development']);
      expect(count(servers.map((s) => s.output()).join('\n'), MADE)).toBe(1);
    } finally {
      await opened.close();
    }
  });
});
