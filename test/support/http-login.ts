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

/** Where a sign-in over HTTP ended: at the redirect URI, or at a consent page (its form and the browser's cookies). */
export type SignInEnd = { consent: false; callback: URL } | { consent: true; confirm: string; jar: CookieJar; page: string };

/**
 * Walks the authorization-code flow over plain HTTP as a browser would (redirects, cookies, the sign-in
 * form) until the redirect URI or a consent page. Browser tests do the same in Chromium.
 */
export async function walkSignIn(authorizationUrl: URL, credentials: { email: string; password?: string }): Promise<SignInEnd> {
  const jar = new CookieJar();
  let url = authorizationUrl.href;
  let method = 'GET';
  let body: string | undefined;
  for (let hop = 0; hop < 15; hop++) {
    if (url.startsWith(REDIRECT_URI)) return { consent: false, callback: new URL(url) };
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
    const confirm = /<form method="post" action="([^"]+\/confirm)"/.exec(text);
    if (response.ok && confirm) return { consent: true, confirm: new URL(confirm[1]!, url).href, jar, page: text };
    throw new Error(`unexpected ${response.status} at ${url}: ${text.slice(0, 500)}`);
  }
  throw new Error('too many redirects');
}

/** The sign-in of `walkSignIn` for clients that ask no consent: the callback URL with the code. */
export async function signInOverHttp(authorizationUrl: URL, credentials: { email: string; password?: string }): Promise<URL> {
  const end = await walkSignIn(authorizationUrl, credentials);
  if (end.consent) throw new Error(`a consent page was shown (${end.confirm}) where none was expected`);
  return end.callback;
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
