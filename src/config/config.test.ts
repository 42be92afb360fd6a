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
      wait_for_replicas: 0,
    });
  });

  it('takes a Redis store as exactly one of url, cluster or sentinel, naming the key otherwise', () => {
    const redis = (store: Record<string, unknown>) => parseConfig({ ...minimal, store: { driver: 'redis', ...store } }).store;
    expect(redis({ url: 'redis://user:pass@host:6379/0' })).toEqual({ driver: 'redis', url: 'redis://user:pass@host:6379/0', prefix: 'lt:', wait_for_replicas: 0 });
    expect(redis({ cluster: ['redis://10.0.0.1:7000', 'redis://10.0.0.2:7000'], prefix: 'p:' })).toEqual({ driver: 'redis', cluster: ['redis://10.0.0.1:7000', 'redis://10.0.0.2:7000'], prefix: 'p:', wait_for_replicas: 0 });
    expect(redis({ sentinel: { name: 'mymaster', nodes: ['10.0.0.1:26379', '[2001:db8::1]:26379'], password: 's3cret' }, username: 'app', password: 'pw', tls: { ca_file: '/etc/ca.pem' } })).toEqual({
      driver: 'redis',
      sentinel: { name: 'mymaster', nodes: ['10.0.0.1:26379', '[2001:db8::1]:26379'], password: 's3cret', tls: false },
      username: 'app',
      password: 'pw',
      tls: { ca_file: '/etc/ca.pem' },
      prefix: 'lt:',
      wait_for_replicas: 0,
    });
    expect(redis({ cluster: ['rediss://a:7000', 'rediss://b:7000'], tls: { ca_file: '/ca.pem' } })).toMatchObject({ tls: { ca_file: '/ca.pem' } });
    const refused: Array<[Record<string, unknown>, RegExp]> = [
      [{}, /^store\.url: set one of url \(standalone\), cluster/],
      [{ url: 'redis://a:1', cluster: ['redis://b:2'] }, /^store\.cluster: set only one of url, cluster, sentinel \(url and cluster/],
      [{ url: 'redis://a:1', sentinel: { name: 'm', nodes: ['a:1'] } }, /^store\.sentinel: set only one/],
      [{ cluster: [] }, /^store\.cluster: name at least one seed node/],
      [{ cluster: ['http://a:1'] }, /^store\.cluster\.0: expected a redis:\/\/ or rediss:\/\/ URL/],
      [{ cluster: ['redis://a:1', 'rediss://b:1'] }, /^store\.cluster: mix of redis:\/\/ and rediss:\/\//],
      [{ url: 'redis://a:1', tls: { ca_file: '/ca.pem' } }, /^store\.tls: TLS is chosen by the URL scheme/],
      [{ sentinel: { name: 'm', nodes: [] } }, /^store\.sentinel\.nodes: name at least one sentinel/],
      [{ sentinel: { name: 'm', nodes: ['redis://a:1'] } }, /^store\.sentinel\.nodes\.0: expected host:port/],
      [{ sentinel: { nodes: ['a:1'] } }, /^store\.sentinel\.name: /],
      [{ url: 'redis://a:1', path: './data' }, /^store: unknown key path/],
      [{ url: 'redis://a:1', wait_for_replicas: -1 }, /^store\.wait_for_replicas: /],
    ];
    for (const [store, message] of refused) {
      try {
        parseConfig({ ...minimal, store: { driver: 'redis', ...store } });
        expect.unreachable(JSON.stringify(store));
      } catch (err) {
        expect((err as ConfigError).issues, JSON.stringify(store)).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
      }
    }
  });

  it('never turns a configured Redis store into an embedded one because DATA_DIR is set, and says which env var overrode what', () => {
    const redisStore = { driver: 'redis', cluster: ['redis://10.0.0.1:7000'], prefix: 'shared:', wait_for_replicas: 1 };
    const notes: string[] = [];
    // Two nodes with store: redis in YAML and DATA_DIR in their environment share the Redis store (no split-brain).
    expect(parseConfig({ ...minimal, store: redisStore }, 'x', { DATA_DIR: '/var/lib/lt' }, notes).store).toEqual(redisStore);
    expect(notes).toEqual(['DATA_DIR is ignored: the configuration file\'s store is redis, not embedded']);

    const overridden: string[] = [];
    const config = parseConfig({ ...minimal, port: 3000, store: { ...redisStore, sentinel: undefined } }, 'x', { REDIS_URL: 'redis://u:secret@r:6379', PORT: '8080', DATA_DIR: '/d' }, overridden);
    expect(config.store).toEqual({ driver: 'redis', url: 'redis://u:secret@r:6379', prefix: 'shared:', wait_for_replicas: 0 });
    expect(overridden).toEqual([
      'PORT overrides port from the configuration file',
      'REDIS_URL overrides store from the configuration file (Redis Cluster store): using standalone Redis at redis://u:***@r:6379',
      'DATA_DIR is ignored: the store is Redis (REDIS_URL)',
    ]);
    // The password never reaches the log line.
    expect(overridden.join(' ')).not.toContain('secret');

    const embedded: string[] = [];
    expect(parseConfig({ ...minimal, store: { driver: 'embedded', path: './d', prefix: 'e:' } }, 'x', { DATA_DIR: '/var/lib/lt' }, embedded).store).toEqual({ driver: 'embedded', path: '/var/lib/lt', prefix: 'e:' });
    expect(embedded).toEqual(['DATA_DIR overrides store.path from the configuration file']);
    const quiet: string[] = [];
    parseConfig(minimal, 'x', { DATA_DIR: '/var/lib/lt', PORT: '3000' }, quiet);
    expect(quiet).toEqual([]);
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

  it('takes development.bootstrap_organisation for an account of users only, and treats it as a development default', () => {
    const users = [{ email: 'Owner@Corp.test', password_hash: '$2b$04$' + 'x'.repeat(53) }];
    const bootstrap = { name: 'Development', owner: 'owner@corp.test' };
    const key = { LOGTRACE_SECRET_KEY: 'k' };
    expect(parseConfig(minimal).development).toEqual({});
    expect(parseConfig({ ...minimal, users, development: { bootstrap_organisation: { name: ' Dev ', owner: 'OWNER@corp.test' } } }).development.bootstrap_organisation).toEqual({ name: 'Dev', owner: 'owner@corp.test' });
    expect(() => parseConfig({ ...minimal, development: { bootstrap_organisation: bootstrap } })).toThrow(/development\.bootstrap_organisation\.owner: no account owner@corp\.test under users/);
    expect(() => parseConfig({ ...minimal, users, development: { bootstrap_organisation: { name: '', owner: 'owner@corp.test' } } })).toThrow(/development\.bootstrap_organisation\.name/);
    expect(() => parseConfig({ ...minimal, users, development: { bootstrap_organisation: true } })).toThrow(/development\.bootstrap_organisation: expected an object/);
    expect(() => parseConfig({ ...minimal, development: { make_everyone_owner: true } })).toThrow(/development: unknown key make_everyone_owner/);
    // Never implicit in production: refused with an issuer that is not localhost, like the other development defaults.
    const production = parseConfig({ ...minimal, users, development: { bootstrap_organisation: bootstrap } });
    expect(developmentDefaultsCheck(production, key).refuse).toEqual([expect.stringMatching(/^development\.bootstrap_organisation: on the first start, organisation "Development" is made and owner@corp\.test becomes its owner/)]);
    expect(developmentDefaultsCheck({ ...production, allow_development_defaults: true }, key).warnings).toEqual([expect.stringContaining('development.bootstrap_organisation')]);
    const local = parseConfig({ issuer: 'http://localhost:3000', users, development: { bootstrap_organisation: bootstrap } });
    expect(developmentDefaultsCheck(local, key)).toEqual({ refuse: [], warnings: [expect.stringMatching(/^development default \(fine on localhost only\): development\.bootstrap_organisation/)] });
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
