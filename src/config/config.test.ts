import { describe, expect, it } from 'vitest';
import { parseConfig, ConfigError } from './index.ts';

const minimal = { issuer: 'https://auth.example.com' };

describe('configuration', () => {
  it('fills in working defaults', () => {
    const config = parseConfig(minimal);
    expect(config.port).toBe(3000);
    expect(config.store).toMatchObject({ driver: 'embedded', prefix: 'lt:' });
    expect(config.tokens).toMatchObject({ access_token_ttl: 3600, refresh_token_ttl: 2_592_000, refresh_token_reuse_interval: 0 });
    expect(config.resource.scopes).toEqual(['read:logs', 'write:alerts', 'admin:projects']);
    expect(config.signing_keys.algorithm).toBe('ES256');
  });

  it('applies PORT, ISSUER, DATA_DIR and REDIS_URL overrides', () => {
    expect(parseConfig(minimal, 'x', { PORT: '8080', ISSUER: 'https://id.example.com' })).toMatchObject({ port: 8080, issuer: 'https://id.example.com' });
    expect(parseConfig(minimal, 'x', { DATA_DIR: '/var/lib/lt' }).store).toMatchObject({ driver: 'embedded', path: '/var/lib/lt' });
    expect(parseConfig({ ...minimal, store: { driver: 'embedded', path: './d', prefix: 'p:' } }, 'x', { REDIS_URL: 'redis://r:6379' }).store).toEqual({
      driver: 'redis',
      url: 'redis://r:6379',
      prefix: 'p:',
    });
  });

  it('takes trust_proxy as false, true, a hop count or proxy CIDRs', () => {
    expect(parseConfig(minimal).trust_proxy).toBe(false);
    expect(parseConfig({ ...minimal, trust_proxy: true }).trust_proxy).toBe(true);
    expect(parseConfig({ ...minimal, trust_proxy: 2 }).trust_proxy).toBe(2);
    expect(parseConfig({ ...minimal, trust_proxy: ['10.0.0.0/8', '2001:DB8::/32', '192.0.2.7'] }).trust_proxy).toEqual(['10.0.0.0/8', '2001:db8::/32', '192.0.2.7/32']);
    for (const bad of [['10.0.0.0/33'], [], -1, 1.5, 'yes', ['proxy.internal']]) {
      expect(() => parseConfig({ ...minimal, trust_proxy: bad }), JSON.stringify(bad)).toThrow(ConfigError);
    }
  });

  it('reports every problem with its key path at once', () => {
    try {
      parseConfig({ issuer: 'not a url', port: 'x', tokens: { access_token_ttl: 'soon' }, store: { driver: 'mongo' }, users: [{ email: 'a@b.c', password_hash: 'plain' }] });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const issues = (err as ConfigError).issues;
      expect(issues).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^issuer: /),
          'port: expected a number',
          'tokens.access_token_ttl: expected a number',
          expect.stringMatching(/^store\.driver: /),
          expect.stringMatching(/^users\.0\.password_hash: expected an argon2id/),
        ]),
      );
    }
  });

  it('refuses duplicate clients and public clients with client_credentials', () => {
    expect(() =>
      parseConfig({
        ...minimal,
        clients: [
          { client_id: 'a', client_secret: 'x'.repeat(32), grant_types: ['client_credentials'] },
          { client_id: 'a', client_secret: 'y'.repeat(32), grant_types: ['client_credentials'] },
        ],
      }),
    ).toThrow(/clients\.1\.client_id: duplicate client_id a/);
    expect(() => parseConfig({ ...minimal, clients: [{ client_id: 'p', grant_types: ['client_credentials'] }] })).toThrow(/client_credentials needs an authenticated client/);
  });
});
