/**
 * A fake Yandex ID: `GET /authorize` (auto-approves, redirects with code & state, or error=access_denied),
 * `POST /token` (form; client credentials by HTTP Basic or in the body; PKCE verified when a challenge was
 * sent) and `GET /info?format=json` that accepts only `Authorization: OAuth <token>`, answering with the
 * documented fields.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientCredentials, json, listen, randomId, readForm, redirect, s256, withParams } from './http.ts';

export interface YandexUser {
  id: string;
  login: string;
  default_email?: string;
  emails?: string[];
  display_name?: string;
  real_name?: string;
  first_name?: string;
  last_name?: string;
}

export interface FakeYandex {
  url: string;
  clientId: string;
  clientSecret: string;
  nextSignIn(user: YandexUser): void;
  denyNext(): void;
  authorizeRequests: URLSearchParams[];
  /** `authorization` headers the info endpoint received. */
  infoAuthorizations: string[];
  close(): Promise<void>;
}

interface PendingCode {
  user: YandexUser;
  challenge: string | null;
  method: string;
}

export async function startFakeYandex(options: { clientId?: string; clientSecret?: string } = {}): Promise<FakeYandex> {
  const clientId = options.clientId ?? 'bd2f3a1c9e8d4f7a8b6c5d4e3f2a1b0c';
  const clientSecret = options.clientSecret ?? randomId(16);
  const codes = new Map<string, PendingCode>();
  const tokens = new Map<string, YandexUser>();
  const authorizeRequests: URLSearchParams[] = [];
  const infoAuthorizations: string[] = [];
  let next: YandexUser | undefined;
  let deny = false;

  function authorize(res: ServerResponse, url: URL): void {
    const q = url.searchParams;
    authorizeRequests.push(new URLSearchParams(q));
    const redirectUri = q.get('redirect_uri');
    if (q.get('client_id') !== clientId || !redirectUri || q.get('response_type') !== 'code') {
      json(res, 400, { error: 'invalid_client', error_description: 'Client not found' });
      return;
    }
    const state = q.get('state') ?? '';
    if (deny) {
      deny = false;
      redirect(res, withParams(redirectUri, { error: 'access_denied', error_description: 'User denied access', state }));
      return;
    }
    if (!next) throw new Error('fake yandex: nextSignIn() was not called');
    const code = String(1_000_000 + Math.floor(Math.random() * 8_999_999));
    codes.set(code, { user: next, challenge: q.get('code_challenge'), method: q.get('code_challenge_method') ?? 'plain' });
    redirect(res, withParams(redirectUri, { code, state, cid: randomId(6) }));
  }

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = await readForm(req);
    if (!form) {
      json(res, 400, { error: 'invalid_request', error_description: 'Invalid content type' });
      return;
    }
    const client = clientCredentials(req, form);
    if (client.id !== clientId || client.secret !== clientSecret) {
      json(res, 401, { error: 'invalid_client', error_description: 'Client authentication failed' });
      return;
    }
    if (form.get('grant_type') !== 'authorization_code') {
      json(res, 400, { error: 'unsupported_grant_type', error_description: 'Unsupported grant_type' });
      return;
    }
    const code = form.get('code') ?? '';
    const pending = codes.get(code);
    codes.delete(code);
    if (!pending) {
      json(res, 400, { error: 'invalid_grant', error_description: 'Code has expired' });
      return;
    }
    if (pending.challenge !== null) {
      const verifier = form.get('code_verifier') ?? '';
      const computed = pending.method === 'S256' ? s256(verifier) : verifier;
      if (computed !== pending.challenge) {
        json(res, 400, { error: 'invalid_grant', error_description: 'Code verifier is not valid' });
        return;
      }
    }
    const accessToken = `y0_${randomId(40)}`;
    tokens.set(accessToken, pending.user);
    json(res, 200, { token_type: 'bearer', access_token: accessToken, expires_in: 31_536_000, refresh_token: `1:${randomId(30)}` });
  }

  function info(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const header = req.headers.authorization ?? '';
    infoAuthorizations.push(header);
    const user = header.startsWith('OAuth ') ? tokens.get(header.slice(6)) : undefined;
    if (!user) {
      res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('invalid token');
      return;
    }
    if (url.searchParams.get('format') !== 'json') {
      res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' });
      res.end(`<?xml version="1.0" encoding="utf-8"?><user><id>${user.id}</id></user>`);
      return;
    }
    json(res, 200, { ...user, client_id: clientId, psuid: `1.${randomId(20)}`, emails: user.emails ?? (user.default_email ? [user.default_email] : []) });
  }

  const server = await listen(async (req, res, url) => {
    if (url.pathname === '/authorize' && req.method === 'GET') authorize(res, url);
    else if (url.pathname === '/token' && req.method === 'POST') await token(req, res);
    else if (url.pathname === '/info' && req.method === 'GET') info(req, res, url);
    else json(res, 404, { error: 'not_found' });
  });

  return {
    url: server.url,
    clientId,
    clientSecret,
    nextSignIn(user) {
      next = user;
    },
    denyNext() {
      deny = true;
    },
    authorizeRequests,
    infoAuthorizations,
    close: server.close,
  };
}
