import * as client from 'openid-client';
import { REDIRECT_URI } from './auth-server.ts';

/**
 * A federated sign-in walked over plain HTTP as a browser would: our /auth, the sign-in page, the
 * connector's button, the upstream (a fake IdP that signs in without UI), our callback, back to the client.
 * Cookies are kept per origin (host and port): our server and the upstream are both oidc-provider
 * instances on 127.0.0.1 and use the same cookie names.
 */
export type FederatedOutcome =
  | { ok: true; tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers }
  | { ok: false; status: number; url: string; body: string };

class OriginJars {
  private readonly jars = new Map<string, Map<string, string>>();

  header(url: string): string {
    return [...(this.jars.get(new URL(url).origin) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  store(url: string, response: Response): void {
    const origin = new URL(url).origin;
    let jar = this.jars.get(origin);
    if (!jar) this.jars.set(origin, (jar = new Map()));
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /max-age=0|expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
  }
}

/**
 * `beforeDecision` runs once the upstream's answer is in and before our server decides on it (the request
 * to `/interaction/{uid}/federated`): a test changes the world there (repoints a connection) to race it.
 */
export async function federatedSignIn(config: client.Configuration, connectorId: string, scope: string, beforeDecision?: () => Promise<void>): Promise<FederatedOutcome> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  let url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope, state, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }).href;
  const jars = new OriginJars();
  let clickedConnector = false;
  for (let hop = 0; hop < 30; hop++) {
    if (url.startsWith(REDIRECT_URI)) {
      const tokens = await client.authorizationCodeGrant(config, new URL(url), { pkceCodeVerifier: verifier, expectedState: state });
      return { ok: true, tokens };
    }
    if (beforeDecision && /\/interaction\/[^/]+\/federated$/.test(new URL(url).pathname)) await beforeDecision();
    const response = await fetch(url, { redirect: 'manual', headers: { cookie: jars.header(url), accept: 'text/html' } });
    jars.store(url, response);
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      url = new URL(location, url).href;
      continue;
    }
    const body = await response.text();
    const button = new RegExp(`data-connector="${connectorId}" href="([^"]+)"`).exec(body);
    if (!clickedConnector && response.ok && button) {
      clickedConnector = true;
      url = new URL(button[1]!.replaceAll('&amp;', '&'), url).href;
      continue;
    }
    return { ok: false, status: response.status, url, body };
  }
  throw new Error('federatedSignIn: too many redirects');
}
