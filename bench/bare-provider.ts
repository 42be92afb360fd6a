/**
 * The baseline: a bare oidc-provider with the same client, the same key type (ES256) and JWT access
 * tokens for the same resource indicator as our server, default in-memory adapter, nothing else.
 *   PORT=… CLIENT_ID=… CLIENT_SECRET=… CLIENT_SCOPE=… AUDIENCE=… SCOPES="a b c" node bench/bare-provider.ts
 * Ready when /.well-known/openid-configuration answers 200.
 */
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type Configuration } from 'oidc-provider';
import { exitWithParent } from './lib.ts';

function need(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`bare-provider: ${name} is not set`);
  return value;
}

async function main(): Promise<void> {
  exitWithParent();
  const port = Number(need('PORT'));
  const host = process.env.HOST ?? '127.0.0.1';
  const issuer = process.env.ISSUER ?? `http://${host}:${port}`;
  const audience = need('AUDIENCE');
  const resourceScopes = need('SCOPES');

  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'ES256', use: 'sig' };

  const configuration: Configuration = {
    clients: [
      {
        client_id: need('CLIENT_ID'),
        client_secret: need('CLIENT_SECRET'),
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: need('CLIENT_SCOPE'),
        // The only key is ES256 (ours sets the same through clientDefaults); the default RS256 would be refused.
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [jwk] as NonNullable<Configuration['jwks']>['keys'] },
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        getResourceServerInfo: () => ({
          scope: resourceScopes,
          audience,
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
        useGrantedResource: () => true,
      },
    },
    scopes: ['openid', ...resourceScopes.split(' ')],
  };

  const provider = new Provider(issuer, configuration);
  provider.on('server_error', (_ctx, err: Error) => console.error('bare-provider server_error:', err));
  const server = provider.listen(port, host);
  server.keepAliveTimeout = 65_000;
  process.once('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}

main().catch((err: unknown) => {
  console.error('bare-provider failed to start:', err);
  process.exit(1);
});
