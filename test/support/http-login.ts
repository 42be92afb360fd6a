import * as client from 'openid-client';
import { REDIRECT_URI, TEST_PASSWORD } from './auth-server.ts';

/** A cookie jar good enough for one origin: follows Set-Cookie names, keeps the latest values. */
export class CookieJar {
  private readonly cookies = new Map<string, string>();
  store(response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair = ''] = header.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(header) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

export async function discover(issuer: string, clientId: string, secret?: string): Promise<client.Configuration> {
  const config = await client.discovery(new URL(issuer), clientId, secret ? { client_secret: secret } : undefined, secret ? client.ClientSecretBasic(secret) : client.None(), {
    execute: [client.allowInsecureRequests],
  });
  return config;
}

/**
 * Walks the authorization-code flow over plain HTTP as a browser would (redirects, cookies, the sign-in
 * form) and returns the callback URL with the code. Browser tests do the same in Chromium.
 */
export async function signInOverHttp(authorizationUrl: URL, credentials: { email: string; password?: string }): Promise<URL> {
  const jar = new CookieJar();
  let url = authorizationUrl.href;
  let method = 'GET';
  let body: string | undefined;
  for (let hop = 0; hop < 15; hop++) {
    if (url.startsWith(REDIRECT_URI)) return new URL(url);
    const response = await fetch(url, {
      method,
      redirect: 'manual',
      headers: { cookie: jar.header(), ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      body,
    });
    jar.store(response);
    method = 'GET';
    body = undefined;
    if (response.status >= 300 && response.status < 400) {
      url = new URL(response.headers.get('location')!, url).href;
      continue;
    }
    const text = await response.text();
    const form = /<form method="post" action="([^"]+\/login)"/.exec(text);
    if (response.ok && form) {
      url = new URL(form[1]!, url).href;
      method = 'POST';
      body = new URLSearchParams({ email: credentials.email, password: credentials.password ?? TEST_PASSWORD }).toString();
      continue;
    }
    throw new Error(`unexpected ${response.status} at ${url}: ${text.slice(0, 500)}`);
  }
  throw new Error('too many redirects');
}

/** Code + PKCE for `dashboard`, returning the token response. */
export async function codeFlowTokens(config: client.Configuration, options: { email: string; scope?: string; password?: string }) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: options.scope ?? 'openid email profile offline_access read:logs',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const callback = await signInOverHttp(url, options);
  return client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
}
