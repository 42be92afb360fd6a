import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Browser } from 'playwright-core';
import { startAuthServer, testConfig, TEST_PASSWORD, type AuthServer } from '../support/auth-server.ts';
import { discover } from '../support/http-login.ts';
import { launchBrowser, ARTIFACTS } from '../support/browser.ts';
import { startCallbackServer } from '../support/wait.ts';


describe('sign-in page in a real browser (Chromium)', () => {
  let server: AuthServer;
  let callback: Awaited<ReturnType<typeof startCallbackServer>>;
  let browser: Browser;
  let config: client.Configuration;

  beforeAll(async () => {
    callback = await startCallbackServer();
    server = await startAuthServer({
      config: (port, dataDir) => {
        const base = testConfig(port, { store: { driver: 'embedded', path: dataDir } });
        const clients = (base.clients as Array<Record<string, unknown>>).map((c) => (c.redirect_uris ? { ...c, redirect_uris: [callback.uri] } : c));
        return { ...base, clients };
      },
    });
    config = await discover(server.url, 'dashboard');
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await server?.cleanup();
    await callback?.close();
  });

  async function authorizationUrl(scope = 'openid email profile offline_access read:logs') {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: callback.uri,
      scope,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    return { url, verifier, state };
  }

  it('shows an error on the same page for a wrong password, then signs in and returns a code', async () => {
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const { url, verifier, state } = await authorizationUrl();
    await page.goto(url.href);
    await expect(page.getByRole('heading', { name: 'Sign in to LogTrace' }).isVisible()).resolves.toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'sign-in-en.png'), fullPage: true });

    await page.getByLabel('Email').fill('alice@example.com');
    await page.getByLabel('Password').fill('not my password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('Incorrect email or password.');
    expect(page.url()).toContain('/interaction/');
    expect(await page.getByLabel('Email').inputValue()).toBe('alice@example.com');
    await page.screenshot({ path: path.join(ARTIFACTS, 'sign-in-error-en.png'), fullPage: true });

    // Keyboard only: type the password, Enter submits.
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.keyboard.press('Enter');
    await page.waitForURL((u) => u.href.startsWith(callback.uri));
    const landed = new URL(page.url());
    expect(landed.searchParams.get('code')).toBeTruthy();

    const tokens = await client.authorizationCodeGrant(config, landed, { pkceCodeVerifier: verifier, expectedState: state });
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${server.url}/jwks`)), { issuer: server.url, audience: 'https://api.logtrace.test' });
    expect(payload.client_id).toBe('dashboard');
    expect(tokens.refresh_token).toBeTruthy();
    await context.close();
  });

  it('renders in Russian for a Russian browser, and the form is usable by keyboard', async () => {
    const context = await browser.newContext({ locale: 'ru-RU', extraHTTPHeaders: { 'accept-language': 'ru-RU,ru;q=0.9' } });
    const page = await context.newPage();
    const { url } = await authorizationUrl('openid');
    await page.goto(url.href);
    await page.getByRole('heading', { name: 'Вход в LogTrace' }).waitFor();
    // Tab order: email (autofocused) → password → submit.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('email');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('password');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Войти');
    await page.screenshot({ path: path.join(ARTIFACTS, 'sign-in-ru.png'), fullPage: true });
    await context.close();
  });

  it('asks a third-party client for consent, and records it', async () => {
    const partner = await discover(server.url, 'partner-app', 'partner-app-secret-0123456789abcdefghij');
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(partner, {
      redirect_uri: callback.uri,
      scope: 'openid email read:logs',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    await page.goto(url.href);
    await page.getByLabel('Email').fill('bob@example.com');
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    expect(await page.textContent('body')).toContain('Partner App');
    await page.screenshot({ path: path.join(ARTIFACTS, 'consent-en.png'), fullPage: true });
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((u) => u.href.startsWith(callback.uri));
    expect(new URL(page.url()).searchParams.get('code')).toBeTruthy();

    // Consent is remembered: the next request goes straight through.
    await page.goto(url.href);
    await page.waitForURL((u) => u.href.startsWith(callback.uri));
    await context.close();
  });
});
