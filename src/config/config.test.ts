import { describe, expect, it } from 'vitest';
import { parseConfig, ConfigError, developmentDefaultsCheck } from './index.ts';

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

  it('publishes rotated signing keys ahead of the JWKS lifetime, and refuses a shorter lead', () => {
    expect(parseConfig(minimal).signing_keys).toMatchObject({ jwks_max_age: 300, publish_ahead: 600, reload_interval: 30 });
    expect(() => parseConfig({ ...minimal, signing_keys: { jwks_max_age: 300, publish_ahead: 320 } })).toThrow(/publish_ahead must exceed jwks_max_age \+ reload_interval/);
    expect(parseConfig({ ...minimal, signing_keys: { jwks_max_age: 2, reload_interval: 1, publish_ahead: 4 } }).signing_keys.publish_ahead).toBe(4);
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

  it('refuses development defaults only with an issuer that is not localhost, unless allowed', () => {
    const devConfig = {
      clients: [{ client_id: 'svc', client_secret: 'dev-ingest-secret-change-me-0123456789', grant_types: ['client_credentials'] }],
      users: [{ email: 'admin@example.com', password_hash: '$2b$04$' + 'x'.repeat(53) }],
    };
    const key = { LOGTRACE_SECRET_KEY: 'k' };
    for (const issuer of ['http://localhost:3000', 'http://127.0.0.1:3000', 'http://[::1]:3000']) {
      const check = developmentDefaultsCheck(parseConfig({ issuer, ...devConfig }), {});
      expect(check.refuse).toEqual([]);
      expect(check.warnings).toHaveLength(3);
    }
    const refused = developmentDefaultsCheck(parseConfig({ issuer: 'https://auth.corp.test', ...devConfig }), {});
    expect(refused.refuse).toEqual([
      expect.stringMatching(/^users\.0: admin@example\.com is a development account/),
      expect.stringMatching(/^clients\.0\.client_secret: client svc uses a development client secret/),
      expect.stringMatching(/^LOGTRACE_SECRET_KEY is not set/),
    ]);
    // localhost.evil.test is not localhost.
    expect(developmentDefaultsCheck(parseConfig({ issuer: 'https://localhost.evil.test', ...devConfig }), key).refuse).toHaveLength(2);
    const allowed = developmentDefaultsCheck(parseConfig({ issuer: 'https://auth.corp.test', allow_development_defaults: true, ...devConfig }), {});
    expect(allowed).toMatchObject({ refuse: [], warnings: [expect.stringContaining('allow_development_defaults: true'), expect.anything(), expect.anything()] });
    expect(developmentDefaultsCheck(parseConfig({ issuer: 'https://auth.corp.test' }), key)).toEqual({ refuse: [], warnings: [] });
  });

  it('validates the metrics block', () => {
    expect(parseConfig(minimal).metrics).toEqual({});
    expect(parseConfig({ ...minimal, metrics: { listen: '127.0.0.1:9464', token: 'a'.repeat(16) } }).metrics.listen).toBe('127.0.0.1:9464');
    expect(parseConfig({ ...minimal, metrics: { listen: '[::1]:9464' } }).metrics.listen).toBe('[::1]:9464');
    expect(() => parseConfig({ ...minimal, metrics: { token: 'short' } })).toThrow(/metrics\.token: a metrics token must be at least 16 characters/);
    expect(() => parseConfig({ ...minimal, metrics: { token: 'a'.repeat(16), token_file: '/run/t' } })).toThrow(/metrics\.token_file: set token or token_file, not both/);
    expect(() => parseConfig({ ...minimal, metrics: { listen: '9464' } })).toThrow(/metrics\.listen: expected host:port/);
    expect(() => parseConfig({ ...minimal, metrics: { listen: 'x:99999' } })).toThrow(/metrics\.listen: port must be at most 65535/);
  });
});
