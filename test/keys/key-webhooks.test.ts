import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { api, bootstrap, type Bootstrapped } from '../support/admin.ts';
import { eventually } from '../support/wait.ts';
import { startReceiver, type Receiver } from '../webhooks/receiver.ts';

type Json = Record<string, unknown>;

describe('key events as signed webhooks, through the API and the expiry watcher', () => {
  let server: AuthServer;
  let receiver: Receiver;
  let boot: Bootstrapped;
  let admin: ReturnType<typeof api>;
  let webhook: Json;

  beforeAll(async () => {
    receiver = await startReceiver();
    server = await startAuthServer({
      config: (port, dataDir) => testConfig(port, { store: { driver: 'embedded', path: dataDir }, api_keys: { expiry_check_seconds: 1 } }),
    });
    boot = bootstrap(server);
    admin = api(server.url, boot.key.key);
    const created = await admin('POST', '/v1/webhooks', { project_id: boot.project.id, url: receiver.url('/hooks'), events: ['key.created', 'key.rotated', 'key.revoked', 'key.expiring', 'key.expired'] });
    expect(created.status).toBe(201);
    expect(String(created.body.secret)).toMatch(/^whsec_[A-Za-z0-9+/=]+$/);
    webhook = created.body;
    receiver.endpoint('/hooks', String(webhook.secret));
  });
  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
    await receiver?.close();
  });

  const received = (type: string) => receiver.receipts('/hooks').filter((r) => (JSON.parse(r.body) as Json).type === type);

  it('shows the signing secret once, never again', async () => {
    const read = await admin('GET', `/v1/webhooks/${webhook.id}`);
    expect(read.body).not.toHaveProperty('secret');
    expect(JSON.stringify((await admin('GET', `/v1/webhooks?project_id=${boot.project.id}`)).body)).not.toContain(String(webhook.secret));
  });

  it('delivers key.created, key.expiring (once, for auto-rotating keys near expiry), key.rotated and key.revoked, signed', async () => {
    const child = (await admin('POST', '/v1/projects', { name: 'Sub', parent_id: boot.project.id })).body;
    // On a sub-project: a webhook on the organisation hears its whole subtree.
    const key = (await admin('POST', '/v1/keys', { project_id: child.id, name: 'short', scopes: ['read:logs'], environment: 'live', ttl_days: 1, auto_rotate: true })).body;
    await eventually(async () => received('key.created').length === 1 && received('key.expiring').length === 1, 15);
    const expiring = JSON.parse(received('key.expiring')[0]!.body) as { data: { key: Json; project_id: string } };
    expect(expiring.data).toMatchObject({ project_id: child.id, key: { id: key.id, auto_rotate: true } });
    expect(JSON.stringify(expiring)).not.toContain(String(key.key));
    await new Promise((r) => setTimeout(r, 2500)); // two more watcher passes: still sent once
    expect(received('key.expiring')).toHaveLength(1);

    const rotated = (await admin('POST', '/v1/keys/rotate', { id: key.id, grace_seconds: 0 })).body;
    await admin('DELETE', `/v1/keys/${rotated.id}`);
    await eventually(async () => received('key.rotated').length === 1 && received('key.revoked').length === 1, 15);
    expect(receiver.receipts('/hooks').every((r) => r.verified)).toBe(true);

    const deliveries = (await admin<{ deliveries: Json[] }>('GET', `/v1/webhooks/${webhook.id}/deliveries`)).body.deliveries;
    expect(deliveries.map((d) => d.event_type)).toEqual(expect.arrayContaining(['key.created', 'key.expiring', 'key.rotated', 'key.revoked']));
    expect(deliveries.every((d) => d.status === 'delivered')).toBe(true);
    expect((deliveries[0]!.attempts as Json[])[0]).toMatchObject({ status_code: 204 });
  });

  it('refuses a bad webhook with a specific problem and creates nothing', async () => {
    const before = (await admin<{ webhooks: Json[] }>('GET', `/v1/webhooks?project_id=${boot.project.id}`)).body.webhooks.length;
    const bad = await admin('POST', '/v1/webhooks', { project_id: boot.project.id, url: 'ftp://example.com/x', events: ['key.created'] });
    expect(bad.body).toMatchObject({ status: 400, field: 'url' });
    const unknown = await admin('POST', '/v1/webhooks', { project_id: boot.project.id, url: receiver.url('/x'), events: ['key.exploded'] });
    expect(unknown.body).toMatchObject({ status: 400, field: 'events' });
    expect((await admin<{ webhooks: Json[] }>('GET', `/v1/webhooks?project_id=${boot.project.id}`)).body.webhooks.length).toBe(before);
  });
});
