import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeProtectedHeader } from 'jose';
import { startAuthServer, testConfig, type AuthServer } from '../support/auth-server.ts';
import { cli } from '../support/admin.ts';
import { eventually } from '../support/wait.ts';
import { createVerifier, type Verifier } from '../../src/verifier/index.ts';
import { clientCredentialsToken } from '../support/tokens.ts';

const AUDIENCE = 'https://api.logtrace.test';
const PUBLISH_AHEAD = 6;

describe('signing-key rotation while verifiers hold a cached JWKS', () => {
  let server: AuthServer;
  let verifier: Verifier;

  beforeAll(async () => {
    server = await startAuthServer({
      config: (port, dataDir) => testConfig(port, { store: { driver: 'embedded', path: dataDir }, signing_keys: { reload_interval: 1, jwks_max_age: 2, publish_ahead: PUBLISH_AHEAD } }),
    });
    // A refetch for an unknown kid would hide a key that signs before it is published: allow none.
    verifier = createVerifier({ issuer: server.url, audience: AUDIENCE, unknownKidCooldownMs: 3_600_000 });
    await verifier.ready();
  });
  afterAll(async () => {
    await verifier?.close();
    await server?.stop();
    await server?.cleanup();
  });

  it('publishes the new key ahead: no token fails verification, and no unknown kid is ever met', async () => {
    const first = await clientCredentialsToken(server);
    const oldKid = decodeProtectedHeader(first).kid;
    await verifier.verify({ authorization: `Bearer ${first}` });
    const unknownBefore = verifier.stats().unknownKidRefetches;

    const rotate = cli(server, ['signing-keys', 'rotate', '--json']);
    expect(rotate.status, rotate.stderr).toBe(0);
    const added = (JSON.parse(rotate.stdout) as { added: { kid: string; sign_from: string } }).added;
    expect(Date.parse(added.sign_from) - Date.now()).toBeGreaterThan(2000);

    // The new key is in the JWKS before it signs anything.
    await eventually(async () => ((await (await fetch(`${server.url}/jwks`)).json()) as { keys: Array<{ kid: string }> }).keys.some((k) => k.kid === added.kid), 10);
    const seen = new Set<string>();
    let failures = 0;
    let verified = 0;
    // Tokens and verifications all through the switch, until the new key has signed for a while.
    while (!seen.has(added.kid) || Date.now() < Date.parse(added.sign_from) + 3000) {
      const token = await clientCredentialsToken(server);
      seen.add(String(decodeProtectedHeader(token).kid));
      await verifier.verify({ authorization: `Bearer ${token}` }).then(() => verified++, () => failures++);
      await new Promise((r) => setTimeout(r, 50));
      if (Date.now() > Date.parse(added.sign_from) + 60_000) throw new Error('the new key never signed');
    }
    expect(failures).toBe(0);
    expect(verified).toBeGreaterThan(10);
    expect(seen).toEqual(new Set([oldKid, added.kid]));
    expect(verifier.stats().unknownKidRefetches).toBe(unknownBefore);
    // A token the old key signed before the switch still verifies: the old key stays published.
    await expect(verifier.verify({ authorization: `Bearer ${first}` })).resolves.toMatchObject({ subject: 'ingest-svc' });
    const listed = JSON.parse(cli(server, ['signing-keys', 'list', '--json']).stdout) as { keys: Array<{ kid: string; retire_at: string | null }> };
    expect(listed.keys.find((k) => k.kid === oldKid)?.retire_at).toBeTruthy();
  });

  it('--now signs with a new key at once and withdraws the old one: its tokens stop verifying once caches refresh', async () => {
    const before = await clientCredentialsToken(server);
    const oldKid = decodeProtectedHeader(before).kid;
    // Another resource server, allowed to refetch for an unknown kid (the usual setting).
    const other = createVerifier({ issuer: server.url, audience: AUDIENCE });
    await other.ready();
    await other.verify({ authorization: `Bearer ${before}` });

    const rotate = cli(server, ['signing-keys', 'rotate', '--now', '--json']);
    expect(rotate.status, rotate.stderr).toBe(0);
    const result = JSON.parse(rotate.stdout) as { added: { kid: string }; retired: Array<{ kid: string }> };
    expect(result.retired.map((k) => k.kid)).toContain(oldKid);
    await eventually(async () => {
      const jwks = (await (await fetch(`${server.url}/jwks`)).json()) as { keys: Array<{ kid: string }> };
      return !jwks.keys.some((k) => k.kid === oldKid) && jwks.keys.some((k) => k.kid === result.added.kid);
    }, 10);
    await eventually(async () => decodeProtectedHeader(await clientCredentialsToken(server)).kid === result.added.kid, 10);
    // New tokens verify (one refetch for the new kid); the old key's tokens are refused once the cache refreshes.
    await expect(other.verify({ authorization: `Bearer ${await clientCredentialsToken(server)}` })).resolves.toMatchObject({ subject: 'ingest-svc' });
    await eventually(() => other.verify({ authorization: `Bearer ${before}` }).then(() => false, () => true), 15);
    await other.close();
  });
});
