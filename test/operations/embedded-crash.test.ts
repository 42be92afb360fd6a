/**
 * The embedded store's crash guarantee: what was acknowledged to a client survives `kill -9` of the server.
 * Every write is committed and fsynced (LMDB, transactionSync) before the response goes out, so a 201 for
 * a key or a 200 for a revocation is on disk when the client reads it. The server is killed while requests
 * are in flight; after a restart every acknowledged key verifies and every acknowledged revocation holds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthServer, type AuthServer } from '../support/auth-server.ts';
import { bootstrap, type Bootstrapped } from '../support/admin.ts';
import { eventually } from '../support/wait.ts';

describe('embedded store: kill -9 loses nothing acknowledged', () => {
  let server: AuthServer;
  let boot: Bootstrapped;
  beforeAll(async () => {
    server = await startAuthServer();
    boot = bootstrap(server);
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await server?.cleanup();
  });

  const post = (path: string, body: unknown) =>
    fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${boot.key.key}` }, body: JSON.stringify(body), signal: AbortSignal.timeout(15_000) });

  it('keeps every key it answered 201 for and every revocation it answered 200 for', async () => {
    const created: Array<{ id: string; key: string }> = [];
    const revoked: Array<{ id: string; key: string }> = [];
    let stop = false;
    const worker = async (name: string): Promise<void> => {
      for (let i = 0; !stop; i++) {
        try {
          const response = await post('/v1/keys', { project_id: boot.project.id, name: `${name}-${i}`, scopes: ['read:logs'], environment: 'live' });
          if (response.status !== 201) continue;
          const key = (await response.json()) as { id: string; key: string };
          if (i % 3 === 2) {
            const revocation = await fetch(`${server.url}/v1/keys/${key.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${boot.key.key}` }, signal: AbortSignal.timeout(15_000) });
            if (revocation.status === 200) revoked.push(key);
            else created.push(key);
          } else {
            created.push(key);
          }
        } catch {
          // The request the kill interrupted: never acknowledged, so nothing is promised about it.
          return;
        }
      }
    };
    const load = [worker('a'), worker('b'), worker('c')];
    await eventually(async () => created.length + revoked.length >= 30, 120);
    const pid = server.pid();
    expect(pid).toBeDefined();
    process.kill(pid!, 'SIGKILL');
    stop = true;
    await Promise.all(load);
    await eventually(async () => server.pid() === undefined, 30);

    await server.start();
    const verify = async (key: string) => (await (await fetch(`${server.url}/v1/keys/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }) })).json()) as { valid: boolean; code?: string };
    expect(revoked.length).toBeGreaterThan(0);
    for (const { key } of created) expect(await verify(key), key.slice(0, 14)).toMatchObject({ valid: true });
    for (const { key } of revoked) expect(await verify(key), key.slice(0, 14)).toEqual({ valid: false, code: 'revoked' });
  }, 240_000);
});
