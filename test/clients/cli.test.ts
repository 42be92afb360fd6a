import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { startAuthServer, type AuthServer } from '../support/auth-server.ts';
import { api, bootstrap, cli, type Bootstrapped } from '../support/admin.ts';

type Json = Record<string, unknown>;

describe('CLI: clients create|list|rotate-secret|delete', () => {
  let server: AuthServer;
  let boot: Bootstrapped;

  beforeAll(async () => {
    server = await startAuthServer();
    boot = bootstrap(server, 'Acme');
  });
  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
  });

  const json = (args: string[]) => {
    const out = cli(server, ['clients', ...args, '--json']);
    return { ...out, body: out.stdout ? (JSON.parse(out.stdout) as Json) : undefined, error: out.stderr ? (JSON.parse(out.stderr) as { error: Json }).error : undefined };
  };
  async function ccToken(clientId: string, secret: string) {
    const config = await client.discovery(new URL(server.url), clientId, { client_secret: secret }, client.ClientSecretPost(secret), { execute: [client.allowInsecureRequests] });
    return client.clientCredentialsGrant(config);
  }

  it('registers a client the running server accepts at once, lists, rotates and deletes it', async () => {
    const made = json(['create', '--project', 'Acme', '--name', 'Nightly export', '--type', 'confidential', '--grant-types', 'client_credentials', '--scopes', 'read:logs', '--secret-ttl-days', '30']);
    expect(made.status, made.stderr).toBe(0);
    expect(made.body).toMatchObject({ project_id: boot.project.id, name: 'Nightly export', created_by: { type: 'system' }, client_secret: expect.stringMatching(/^lts_/) });
    const id = String(made.body!.client_id);
    await ccToken(id, String(made.body!.client_secret));

    const listed = json(['list', '--project', boot.project.id]);
    expect((listed.body!.clients as Json[]).map((c) => c.client_id)).toContain(id);
    expect(JSON.stringify(listed.body)).not.toContain(String(made.body!.client_secret));
    // The operator sees the configuration file's clients too.
    expect((json(['list']).body!.clients as Json[]).some((c) => c.client_id === 'ingest-svc' && c.origin === 'config')).toBe(true);

    const rotated = json(['rotate-secret', '--client-id', id, '--grace-seconds', '0']);
    expect(rotated.status, rotated.stderr).toBe(0);
    await expect(ccToken(id, String(made.body!.client_secret))).rejects.toThrow();
    await ccToken(id, String(rotated.body!.client_secret));

    // Audited as the operator, like the API's actions.
    const audit = await api(server.url, boot.key.key)<{ events: Json[] }>('GET', `/v1/audit?target_id=${id}`);
    expect(audit.body.events.map((e) => e.action)).toEqual(['client.created', 'client.secret_rotated']);

    expect(json(['delete', '--client-id', id]).status).toBe(0);
    await expect(ccToken(id, String(rotated.body!.client_secret))).rejects.toThrow();
    expect(json(['delete', '--client-id', id]).status).toBe(4);
  });

  it('refuses bad input with the service\'s error and an exit code per kind', () => {
    const publicCc = json(['create', '--project', boot.project.id, '--name', 'x', '--type', 'public', '--grant-types', 'client_credentials', '--scopes', 'read:logs']);
    expect(publicCc.status).toBe(2);
    expect(publicCc.error).toMatchObject({ code: 'invalid', field: 'grant_types' });
    const fragment = json(['create', '--project', boot.project.id, '--name', 'x', '--type', 'public', '--grant-types', 'authorization_code', '--scopes', 'openid', '--redirect-uris', 'https://a.example/cb#x']);
    expect(fragment.error).toMatchObject({ code: 'invalid', field: 'redirect_uris.0' });
    expect(json(['create', '--project', 'nowhere', '--name', 'x', '--type', 'public', '--grant-types', 'authorization_code', '--scopes', 'openid']).status).toBe(4);
    expect(json(['rotate-secret', '--client-id', 'ingest-svc']).status).toBe(5);
    expect(json(['list', '--project', boot.project.id]).body).toEqual({ clients: [] });
    expect(cli(server, ['clients', 'create', '--bogus']).status).toBe(2);
  });
});
