import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError, type Identity, type RedirectConnector } from '../../src/connectors/types.ts';
import { yandexConfig, yandexConnector } from '../../src/connectors/yandex.ts';
import { asRedirect, callbackUri, common, connectorDeps, withTamperedVerifier } from '../support/fake-idps/deps.ts';
import { followRedirects } from '../support/fake-idps/follow-redirects.ts';
import { startFakeYandex, type FakeYandex, type YandexUser } from '../support/fake-idps/yandex.ts';

const REDIRECT_URI = callbackUri('yandex');
const ivan: YandexUser = {
  id: '1000034426',
  login: 'ivan.petrov',
  default_email: 'ivan.petrov@yandex.ru',
  emails: ['ivan.petrov@yandex.ru', 'ivan@example.org'],
  display_name: 'Ivan P.',
  real_name: 'Ivan Petrov',
  first_name: 'Ivan',
  last_name: 'Petrov',
};

let yandex: FakeYandex;
beforeAll(async () => {
  yandex = await startFakeYandex();
});
afterAll(async () => {
  await yandex?.close();
});

async function connector(options: Record<string, unknown> & { trust_email?: boolean } = {}): Promise<RedirectConnector> {
  const { trust_email, ...own } = options;
  const config = yandexConfig.parse({
    client_id: yandex.clientId,
    client_secret: yandex.clientSecret,
    endpoints: { authorization: `${yandex.url}/authorize`, token: `${yandex.url}/token`, userinfo: `${yandex.url}/info` },
    ...own,
  });
  return asRedirect(await yandexConnector.create({ ...config, ...common('yandex', 'yandex', { trust_email }) }, connectorDeps()));
}

const newState = (): string => randomBytes(16).toString('base64url');

async function signIn(c: RedirectConnector, who: YandexUser, loginHint?: string): Promise<{ query: URLSearchParams; transaction: Record<string, string> }> {
  yandex.nextSignIn(who);
  const { url, transaction } = await c.begin({ redirectUri: REDIRECT_URI, state: newState(), loginHint });
  return { query: (await followRedirects(url, REDIRECT_URI)).searchParams, transaction };
}

async function fullSignIn(c: RedirectConnector, who: YandexUser): Promise<Identity> {
  const { query, transaction } = await signIn(c, who);
  return c.complete({ redirectUri: REDIRECT_URI, query, transaction });
}

describe('Yandex ID connector against a fake Yandex', () => {
  it('signs in: PKCE S256, Basic client auth, user info with the OAuth scheme', async () => {
    const c = await connector({ force_confirm: true });
    const { query, transaction } = await signIn(c, ivan, 'ivan.petrov');
    const identity = await c.complete({ redirectUri: REDIRECT_URI, query, transaction });
    expect(identity).toEqual({
      connector_id: 'yandex',
      subject: '1000034426',
      issuer: `${yandex.url}/info`,
      email: 'ivan.petrov@yandex.ru',
      email_verified: true,
      name: 'Ivan P.',
      groups: [],
      amr: [],
      acr: null,
    });
    expect(Object.fromEntries(yandex.authorizeRequests.at(-1) ?? [])).toMatchObject({
      response_type: 'code',
      client_id: yandex.clientId,
      redirect_uri: REDIRECT_URI,
      scope: 'login:info login:email',
      state: transaction.state,
      code_challenge_method: 'S256',
      code_challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      login_hint: 'ivan.petrov',
      force_confirm: 'yes',
    });
    expect(yandex.infoAuthorizations.at(-1)).toMatch(/^OAuth y0_/);
  });

  it('falls back to the first of emails (unverified), and to real_name or login for the name', async () => {
    const identity = await fullSignIn(await connector(), { id: '42', login: 'masha', emails: ['masha@example.org'], real_name: 'Masha K.' });
    expect(identity).toMatchObject({ subject: '42', email: 'masha@example.org', email_verified: false, name: 'Masha K.' });
    // Yandex vouches for default_email only: trust_email does not make another of the addresses verified.
    expect((await fullSignIn(await connector({ trust_email: true }), { id: '42', login: 'masha', emails: ['masha@example.org'] })).email_verified).toBe(false);
    const bare = await fullSignIn(await connector(), { id: '43', login: 'petya' });
    expect(bare).toMatchObject({ email: null, email_verified: false, name: 'petya' });
  });

  it('trust_email false marks even default_email unverified', async () => {
    expect((await fullSignIn(await connector({ trust_email: false }), ivan)).email_verified).toBe(false);
  });

  it('fails when the PKCE verifier is tampered with (the fake checks it)', async () => {
    const c = await connector();
    const { query, transaction } = await signIn(c, ivan);
    const tampered = withTamperedVerifier(transaction);
    await expect(c.complete({ redirectUri: REDIRECT_URI, query, transaction: tampered })).rejects.toMatchObject({
      code: 'upstream_error',
      message: expect.stringContaining('invalid_grant'),
    });
  });

  it('refuses a wrong state and reports error=access_denied', async () => {
    const c = await connector();
    const first = await signIn(c, ivan);
    await expect(c.complete({ redirectUri: REDIRECT_URI, query: first.query, transaction: { ...first.transaction, state: newState() } })).rejects.toMatchObject({ code: 'invalid_state' });

    yandex.denyNext();
    const denied = await signIn(c, ivan);
    const error = await c.complete({ redirectUri: REDIRECT_URI, ...denied }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error).toMatchObject({ code: 'access_denied' });
  });

  it('fails with upstream_error on a wrong client secret', async () => {
    const c = await connector({ client_secret: 'wrong' });
    await expect(fullSignIn(c, ivan)).rejects.toMatchObject({ code: 'upstream_error', message: expect.stringContaining('invalid_client') });
  });

  it('uses the real Yandex endpoints by default', async () => {
    const config = yandexConfig.parse({ client_id: 'abc', client_secret: 'def' });
    expect(config.endpoints).toEqual({ authorization: 'https://oauth.yandex.ru/authorize', token: 'https://oauth.yandex.ru/token', userinfo: 'https://login.yandex.ru/info' });
    expect(yandexConnector.canProveMfa).toBe(false);
  });
});
