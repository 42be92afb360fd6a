import { CC_SECRET, type AuthServer } from './auth-server.ts';

/** A client-credentials access token of the `ingest-svc` test client (an ES256 JWT for the log API). */
export async function clientCredentialsToken(server: Pick<AuthServer, 'url'>, scope = 'read:logs'): Promise<string> {
  const response = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`ingest-svc:${CC_SECRET}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
  });
  const body = (await response.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`no token: ${JSON.stringify(body)}`);
  return body.access_token;
}
