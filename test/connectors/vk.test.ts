import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Identity, RedirectConnector } from '../../src/connectors/types.ts';
import { vkConfig, vkConnector } from '../../src/connectors/vk.ts';
import { asRedirect, callbackUri, common, connectorDeps, withTamperedVerifier } from '../support/fake-idps/deps.ts';
import { followRedirects } from '../support/fake-idps/follow-redirects.ts';
import { startFakeVk, type FakeVk, type VkUser } from '../support/fake-idps/vk.ts';

const REDIRECT_URI = callbackUri('vk');
const olga: VkUser = { user_id: '1234567890', first_name: 'Olga', last_name: 'Smirnova', email: 'olga@mail.example', verified: true };

let vk: FakeVk;
let vkWithSecret: FakeVk;
beforeAll(async () => {
  [vk, vkWithSecret] = await Promise.all([startFakeVk(), startFakeVk({ clientId: '7654321', clientSecret: 'vk-service-secret' })]);
});
afterAll(async () => {
  await Promise.all([vk?.close(), vkWithSecret?.close()]);
});

async function connector(options: Record<string, unknown> & { trust_email?: boolean } = {}, fake: FakeVk = vk): Promise<RedirectConnector> {
  const { trust_email, ...own } = options;
  const config = vkConfig.parse({
    client_id: Number(fake.clientId), // as YAML would hand over an all-digit app id
    endpoints: { authorization: `${fake.url}/authorize`, token: `${fake.url}/oauth2/auth`, userinfo: `${fake.url}/oauth2/user_info` },
    ...own,
  });
  return asRedirect(await vkConnector.create({ ...config, ...common('vk', 'vk', { trust_email }) }, connectorDeps()));
}

const newState = (): string => randomBytes(24).toString('base64url');

async function signIn(c: RedirectConnector, who: VkUser, fake: FakeVk = vk): Promise<{ query: URLSearchParams; transaction: Record<string, string> }> {
  fake.nextSignIn(who);
  const { url, transaction } = await c.begin({ redirectUri: REDIRECT_URI, state: newState() });
  return { query: (await followRedirects(url, REDIRECT_URI)).searchParams, transaction };
}

async function fullSignIn(c: RedirectConnector, who: VkUser, fake: FakeVk = vk): Promise<Identity> {
  const { query, transaction } = await signIn(c, who, fake);
  return c.complete({ redirectUri: REDIRECT_URI, query, transaction });
}

describe('VK ID connector against a fake VK ID', () => {
  it('signs in: PKCE s256, device_id and state through the token call, person from user_info', async () => {
    const c = await connector();
    const { query, transaction } = await signIn(c, olga);
    const identity = await c.complete({ redirectUri: REDIRECT_URI, query, transaction });
    expect(identity).toEqual({
      connector_id: 'vk',
      subject: '1234567890',
      issuer: `${vk.url}/oauth2/user_info`,
      email: 'olga@mail.example',
      email_verified: false, // VK asserts nothing about emails
      name: 'Olga Smirnova',
      groups: [],
      amr: [],
      acr: null,
      upstream: { refresh_token: expect.stringMatching(/^vk2\.a\./), access_token_expires_at: expect.any(Number) },
    });
    expect(Object.fromEntries(vk.authorizeRequests.at(-1) ?? [])).toEqual({
      response_type: 'code',
      client_id: vk.clientId,
      redirect_uri: REDIRECT_URI,
      state: transaction.state,
      code_challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      code_challenge_method: 's256',
      scope: 'email',
    });
    expect(Object.fromEntries(vk.tokenRequests.at(-1) ?? [])).toEqual({
      grant_type: 'authorization_code',
      code: query.get('code'),
      code_verifier: transaction.code_verifier,
      client_id: vk.clientId,
      device_id: query.get('device_id'),
      redirect_uri: REDIRECT_URI,
      state: transaction.state,
    });
  });

  it('sends client_secret when configured', async () => {
    const c = await connector({ client_secret: 'vk-service-secret' }, vkWithSecret);
    expect((await fullSignIn(c, olga, vkWithSecret)).subject).toBe('1234567890');
    expect(vkWithSecret.tokenRequests.at(-1)?.get('client_secret')).toBe('vk-service-secret');
  });

  it('marks the email verified only with trust_email; no email is null', async () => {
    expect((await fullSignIn(await connector({ trust_email: true }), olga)).email_verified).toBe(true);
    const noEmail = await fullSignIn(await connector({ trust_email: true }), { user_id: '555', first_name: 'Ilya', last_name: '' });
    expect(noEmail).toMatchObject({ subject: '555', email: null, email_verified: false, name: 'Ilya' });
  });

  it('fails when the PKCE verifier is tampered with (the fake checks it)', async () => {
    const c = await connector();
    const { query, transaction } = await signIn(c, olga);
    const tampered = withTamperedVerifier(transaction);
    await expect(c.complete({ redirectUri: REDIRECT_URI, query, transaction: tampered })).rejects.toMatchObject({
      code: 'upstream_error',
      message: expect.stringContaining('code_verifier is invalid'),
    });
  });

  it('fails on a callback without device_id', async () => {
    const c = await connector();
    vk.omitDeviceIdNext();
    const { query, transaction } = await signIn(c, olga);
    await expect(c.complete({ redirectUri: REDIRECT_URI, query, transaction })).rejects.toMatchObject({ code: 'upstream_error', message: expect.stringContaining('device_id') });
  });

  it('fails when the token reply does not echo our state', async () => {
    const c = await connector();
    vk.echoStateNext('someone-elses-state');
    await expect(fullSignIn(c, olga)).rejects.toMatchObject({ code: 'upstream_error', message: expect.stringContaining('state') });
  });

  it('refuses a wrong state and reports error=access_denied', async () => {
    const c = await connector();
    const { query, transaction } = await signIn(c, olga);
    await expect(c.complete({ redirectUri: REDIRECT_URI, query, transaction: { ...transaction, state: newState() } })).rejects.toMatchObject({ code: 'invalid_state' });
    vk.denyNext();
    const denied = await signIn(c, olga);
    await expect(c.complete({ redirectUri: REDIRECT_URI, ...denied })).rejects.toMatchObject({ code: 'access_denied' });
  });

  it('uses the real VK ID endpoints by default', () => {
    const config = vkConfig.parse({ client_id: '51234567' });
    expect(config.endpoints).toEqual({ authorization: 'https://id.vk.com/authorize', token: 'https://id.vk.com/oauth2/auth', userinfo: 'https://id.vk.com/oauth2/user_info' });
    expect(config.scopes).toEqual(['email']);
    expect(vkConnector.canProveMfa).toBe(false);
  });
});
