/**
 * A fake VK ID (OAuth 2.1, id.vk.com): `GET /authorize` demands PKCE with `code_challenge_method=s256` and
 * redirects with `code`, `state`, `device_id` (and VK's `type`, `expires_in`, `ext_id`); `POST /oauth2/auth`
 * (form) checks code, verifier, client_id, device_id and redirect_uri and echoes `state`;
 * `POST /oauth2/user_info` (form client_id + access_token) answers `{user: {...}}`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { json, listen, nowSeconds, randomId, readForm, redirect, s256, signingKey, withParams } from './http.ts';

export interface VkUser {
  user_id: string;
  first_name: string;
  last_name: string;
  email?: string;
  phone?: string;
  verified?: boolean;
}

export interface FakeVkOptions {
  clientId?: string;
  /** When set, the token endpoint also demands this client_secret. */
  clientSecret?: string;
}

export interface FakeVk {
  url: string;
  clientId: string;
  nextSignIn(user: VkUser): void;
  denyNext(): void;
  /** The next redirect back leaves out device_id. */
  omitDeviceIdNext(): void;
  /** The next token reply echoes this state instead of the one sent. */
  echoStateNext(state: string): void;
  authorizeRequests: URLSearchParams[];
  tokenRequests: URLSearchParams[];
  close(): Promise<void>;
}

interface PendingCode {
  user: VkUser;
  challenge: string;
  deviceId: string;
  redirectUri: string;
  scope: string;
}

const vkError = (res: ServerResponse, status: number, error: string, description: string): void => json(res, status, { error, error_description: description });

export async function startFakeVk(options: FakeVkOptions = {}): Promise<FakeVk> {
  const clientId = options.clientId ?? '51234567';
  const key = await signingKey();
  const codes = new Map<string, PendingCode>();
  const tokens = new Map<string, VkUser>();
  const authorizeRequests: URLSearchParams[] = [];
  const tokenRequests: URLSearchParams[] = [];
  let next: VkUser | undefined;
  let deny = false;
  let omitDeviceId = false;
  let echoState: string | undefined;

  function authorize(res: ServerResponse, url: URL): void {
    const q = url.searchParams;
    authorizeRequests.push(new URLSearchParams(q));
    const redirectUri = q.get('redirect_uri');
    const state = q.get('state');
    const challenge = q.get('code_challenge');
    if (q.get('client_id') !== clientId || !redirectUri) {
      vkError(res, 400, 'invalid_client', 'client_id is invalid');
      return;
    }
    if (q.get('response_type') !== 'code' || !state || !challenge || q.get('code_challenge_method') !== 's256') {
      vkError(res, 400, 'invalid_request', 'response_type, state, code_challenge and code_challenge_method=s256 are required');
      return;
    }
    if (deny) {
      deny = false;
      redirect(res, withParams(redirectUri, { error: 'access_denied', error_description: 'User denied access', state }));
      return;
    }
    if (!next) throw new Error('fake vk: nextSignIn() was not called');
    const code = `vk2.a.${randomId(32)}`;
    const deviceId = randomId(40);
    codes.set(code, { user: next, challenge, deviceId, redirectUri, scope: q.get('scope') ?? 'vkid.personal_info' });
    const params: Record<string, string> = { code, state, type: 'code_v2', expires_in: '600', ext_id: randomId(20) };
    if (omitDeviceId) omitDeviceId = false;
    else params.device_id = deviceId;
    redirect(res, withParams(redirectUri, params));
  }

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = await readForm(req);
    if (!form) {
      vkError(res, 400, 'invalid_request', 'content-type must be application/x-www-form-urlencoded');
      return;
    }
    tokenRequests.push(new URLSearchParams(form));
    if (form.get('client_id') !== clientId) {
      vkError(res, 401, 'invalid_client', 'client_id is invalid');
      return;
    }
    if (options.clientSecret !== undefined && form.get('client_secret') !== options.clientSecret) {
      vkError(res, 401, 'invalid_client', 'client_secret is invalid');
      return;
    }
    if (form.get('grant_type') !== 'authorization_code') {
      vkError(res, 400, 'unsupported_grant_type', 'grant_type is invalid');
      return;
    }
    const code = form.get('code') ?? '';
    const pending = codes.get(code);
    if (!pending) {
      vkError(res, 400, 'invalid_grant', 'code is invalid or expired');
      return;
    }
    codes.delete(code);
    const verifier = form.get('code_verifier') ?? '';
    if (!/^[A-Za-z0-9_-]{43,128}$/.test(verifier) || s256(verifier) !== pending.challenge) {
      vkError(res, 400, 'invalid_grant', 'code_verifier is invalid');
      return;
    }
    if (form.get('device_id') !== pending.deviceId) {
      vkError(res, 400, 'invalid_grant', 'device_id is invalid');
      return;
    }
    if (form.get('redirect_uri') !== pending.redirectUri) {
      vkError(res, 400, 'invalid_grant', 'redirect_uri is invalid');
      return;
    }
    const state = form.get('state');
    if (!state) {
      vkError(res, 400, 'invalid_request', 'state is required');
      return;
    }
    const accessToken = `vk2.a.${randomId(48)}`;
    tokens.set(accessToken, pending.user);
    const now = nowSeconds();
    const echoed = echoState ?? state;
    echoState = undefined;
    json(res, 200, {
      refresh_token: `vk2.a.${randomId(48)}`,
      access_token: accessToken,
      id_token: await key.sign({ iss: 'VK', sub: pending.user.user_id, app: Number(clientId), iat: now, exp: now + 3600 }),
      token_type: 'Bearer',
      expires_in: 3600,
      user_id: Number(pending.user.user_id),
      state: echoed,
      scope: pending.scope,
    });
  }

  async function userInfo(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = await readForm(req);
    const user = form ? tokens.get(form.get('access_token') ?? '') : undefined;
    if (!form || form.get('client_id') !== clientId || !user) {
      vkError(res, 401, 'invalid_token', 'access_token is missing or invalid');
      return;
    }
    json(res, 200, {
      user: {
        user_id: user.user_id,
        first_name: user.first_name,
        last_name: user.last_name,
        avatar: `https://sun1-00.userapi.com/s/v1/ig2/${randomId(8)}.jpg`,
        ...(user.email !== undefined ? { email: user.email } : {}),
        ...(user.phone !== undefined ? { phone: user.phone } : {}),
        sex: 2,
        verified: user.verified ?? false,
        birthday: '01.01.1990',
      },
    });
  }

  const server = await listen(async (req, res, url) => {
    if (url.pathname === '/authorize' && req.method === 'GET') authorize(res, url);
    else if (url.pathname === '/oauth2/auth' && req.method === 'POST') await token(req, res);
    else if (url.pathname === '/oauth2/user_info' && req.method === 'POST') await userInfo(req, res);
    else json(res, 404, { error: 'not_found' });
  });

  return {
    url: server.url,
    clientId,
    nextSignIn(user) {
      next = user;
    },
    denyNext() {
      deny = true;
    },
    omitDeviceIdNext() {
      omitDeviceId = true;
    },
    echoStateNext(state) {
      echoState = state;
    },
    authorizeRequests,
    tokenRequests,
    close: server.close,
  };
}
