import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client, SizeLimitExceededError } from 'ldapts';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ldapConnector } from '../../src/connectors/ldap.ts';
import { ConnectorError, type ConnectorDeps, type PasswordConnector } from '../../src/connectors/types.ts';
import { AD_DISABLED_FILTER, disabledFilter, fillFilter, inChainFilter, LdapDirectory, ldapConfigSchema, LdapUnavailableError, type LdapConfig } from '../../src/directory/ldap.ts';
import type { Store } from '../../src/store/index.ts';
import { freePort } from '../support/ports.ts';
import {
  directorySettings,
  GROUPS_DN,
  PEOPLE,
  PEOPLE_DN,
  READER_DN,
  READER_PASSWORD,
  groupDn,
  personDn,
  startSlapd,
  type SlapdServer,
} from '../support/slapd.ts';

// Everything the code under test logs, at debug level: checked for passwords at the end.
let logged = '';
const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logged += chunk.toString();
      callback();
    },
  }),
);

let slapd: SlapdServer;
let directory: LdapDirectory;

function configFor(url: string, overrides: Record<string, unknown> = {}): LdapConfig {
  return ldapConfigSchema.parse(directorySettings(url, { timeout_ms: 2000, ...overrides }));
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  slapd = await startSlapd();
  directory = new LdapDirectory(configFor(slapd.url), { logger });
});

afterAll(async () => {
  await directory?.close();
  await slapd?.dispose();
});

describe('config schema', () => {
  it('parses the documented YAML shape and fills defaults', () => {
    const yaml = `
ldap:
  url: ldap://127.0.0.1:389
  bind_dn: cn=reader,dc=acme,dc=ru
  bind_password: "s3cret"
  user_search: { base_dn: "ou=people,dc=acme,dc=ru", filter: "(mail={email})", id_attr: uid, email_attr: mail, name_attr: cn }
  group_search: { base_dn: "ou=groups,dc=acme,dc=ru", filter: "(member={dn})", name_attr: cn, nested: true }
  sync_interval_seconds: 300
`;
    const config = ldapConfigSchema.parse((parseYaml(yaml) as { ldap: unknown }).ldap);
    expect(config).toMatchObject({
      url: 'ldap://127.0.0.1:389',
      start_tls: false,
      timeout_ms: 5000,
      page_size: 500,
      active_directory: false,
      sync_interval_seconds: 300,
      group_search: { nested: true, name_attr: 'cn' },
    });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['both passwords', { bind_password_file: '/run/secrets/ldap' }, 'bind_password'],
    ['no password', { bind_password: undefined }, 'bind_password'],
    ['start_tls on ldaps', { url: 'ldaps://ldap.acme.ru', start_tls: true }, 'start_tls'],
    ['http url', { url: 'http://ldap.acme.ru' }, 'url'],
    ['user filter without {email}', { user_search: { base_dn: PEOPLE_DN, filter: '(mail=x)' } }, 'user_search.filter'],
    ['group filter that does not parse', { group_search: { base_dn: GROUPS_DN, filter: '(member={dn}' } }, 'group_search.filter'],
    ['unknown key', { bind_pasword: 'typo' }, ''],
  ])('rejects %s', (_name, overrides, pathPrefix) => {
    const result = ldapConfigSchema.safeParse({
      url: 'ldap://127.0.0.1:389',
      bind_dn: READER_DN,
      bind_password: 'x',
      user_search: { base_dn: PEOPLE_DN },
      group_search: { base_dn: GROUPS_DN },
      ...overrides,
    });
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((issue) => issue.path.join('.'));
    expect(paths.some((p) => p.startsWith(pathPrefix))).toBe(true);
  });
});

describe('filters', () => {
  it.each<[string, Record<string, string>, string]>([
    ['(mail={email})', { email: 'alice@acme.ru' }, '(mail=alice@acme.ru)'],
    ['(mail={email})', { email: '*)(uid=*' }, '(mail=\\2a\\29\\28uid=\\2a)'],
    ['(mail={email})', { email: 'a\\b\u0000' }, '(mail=a\\5cb\\00)'],
    ['(&(objectClass=person)(|(mail={email})(uid={email})))', { email: 'x*' }, '(&(objectClass=person)(|(mail=x\\2a)(uid=x\\2a)))'],
    ['(member={dn})', { dn: 'cn=Ops\\, Night (EU),ou=groups' }, '(member=cn=Ops\\5c, Night \\28EU\\29,ou=groups)'],
  ])('fillFilter(%s) escapes values', (template, values, want) => {
    expect(fillFilter(template, values)).toBe(want);
  });

  it.each<[string, string]>([
    ['(member={dn})', '(member:1.2.840.113556.1.4.1941:={dn})'],
    ['(&(objectClass=group)(member={dn}))', '(&(objectClass=group)(member:1.2.840.113556.1.4.1941:={dn}))'],
  ])('inChainFilter(%s) (Active Directory nested groups)', (template, want) => {
    expect(inChainFilter(template)).toBe(want);
  });
});

describe('LdapDirectory against slapd', () => {
  it('findUser finds a person by email with the service account', async () => {
    expect(await directory.findUser('alice@acme.ru')).toEqual({
      dn: personDn('alice'),
      id: 'alice',
      email: 'alice@acme.ru',
      name: 'Alice Admin',
    });
    // mail matches case-insensitively in the schema (caseIgnoreIA5Match)
    expect((await directory.findUser('Alice@ACME.ru'))?.id).toBe('alice');
    expect(await directory.findUser('nobody@acme.ru')).toBeUndefined();
    expect(await directory.findUser('')).toBeUndefined();
  });

  it('anonymous searches see nothing (so the service bind is what finds people)', async () => {
    const client = new Client({ url: slapd.url });
    try {
      const { searchEntries } = await client.search(PEOPLE_DN, { scope: 'sub', filter: '(mail=alice@acme.ru)' }).catch(() => ({ searchEntries: [] }));
      expect(searchEntries).toEqual([]);
    } finally {
      await client.unbind();
    }
  });

  it('filter injection finds nobody', async () => {
    for (const email of ['*)(uid=*', '*', 'alice@acme.ru)(|(uid=*', '*)(|(objectClass=*)']) {
      expect(await directory.findUser(email)).toBeUndefined();
      const error = await rejection(directory.authenticate(email, PEOPLE.alice.password));
      expect(error).toBeInstanceOf(ConnectorError);
      expect((error as ConnectorError).code).toBe('invalid_credentials');
    }
  });

  it('authenticate: right password → the person with their groups', async () => {
    expect(await directory.authenticate('alice@acme.ru', PEOPLE.alice.password)).toEqual({
      dn: personDn('alice'),
      id: 'alice',
      email: 'alice@acme.ru',
      name: 'Alice Admin',
      groups: ['logtrace-admins', 'logtrace-viewers'],
    });
  });

  it.each<[string, string, string]>([
    ['wrong password', 'alice@acme.ru', 'not-alice-pass'],
    ["another person's password", 'alice@acme.ru', PEOPLE.bob.password],
    ['unknown user', 'mallory@acme.ru', 'whatever'],
    ['empty password', 'alice@acme.ru', ''],
    ['empty username', '', 'whatever'],
  ])('authenticate: %s → invalid_credentials', async (_name, email, password) => {
    const error = await rejection(directory.authenticate(email, password));
    expect(error).toBeInstanceOf(ConnectorError);
    expect((error as ConnectorError).code).toBe('invalid_credentials');
  });

  it('an empty password is refused before any bind (an empty simple bind would "succeed")', async () => {
    // Pointed at a port nobody listens on: reaching the network would be LdapUnavailableError.
    const nowhere = new LdapDirectory(configFor(`ldap://127.0.0.1:${await freePort()}`), { logger });
    const error = await rejection(nowhere.authenticate('alice@acme.ru', ''));
    expect(error).toBeInstanceOf(ConnectorError);
    expect((error as ConnectorError).code).toBe('invalid_credentials');
    // and slapd itself does accept an unauthenticated bind with a DN and no password:
    const client = new Client({ url: slapd.url });
    await expect(client.bind(personDn('alice'), '')).resolves.toBeUndefined();
    await client.unbind();
  });

  it.each<[string, string[]]>([
    ['alice', ['logtrace-admins', 'logtrace-viewers']],
    ['bob', ['logtrace-viewers']],
    ['carol', ['logtrace-admins', 'platform-team']], // platform-team ∈ logtrace-admins
    ['dave', ['loop-a', 'loop-b']], // loop-a ∈ loop-b ∈ loop-a: terminates
    ['erin', []],
  ])('groupsOf(%s), nested', async (uid, want) => {
    expect(await directory.groupsOf(personDn(uid))).toEqual(want);
  });

  it('groupsOf without nesting: direct groups only', async () => {
    const flat = new LdapDirectory(configFor(slapd.url, { group_search: { base_dn: GROUPS_DN, filter: '(member={dn})', nested: false } }), { logger });
    expect(await flat.groupsOf(personDn('carol'))).toEqual(['platform-team']);
    expect(await flat.groupsOf(personDn('dave'))).toEqual(['loop-a']);
  });

  it('a group of a group found by DN: groupsOf a group lists its ancestors', async () => {
    expect(await directory.groupsOf(groupDn('platform-team'))).toEqual(['logtrace-admins']);
  });

  it('a membership change shows on the next read (no caching)', async () => {
    expect(await directory.groupsOf(personDn('bob'))).toContain('logtrace-viewers');
    await slapd.modify(groupDn('logtrace-viewers'), [{ operation: 'delete', type: 'member', values: [personDn('bob')] }]);
    try {
      expect(await directory.groupsOf(personDn('bob'))).toEqual([]);
      expect((await directory.authenticate('bob@acme.ru', PEOPLE.bob.password)).groups).toEqual([]);
    } finally {
      await slapd.modify(groupDn('logtrace-viewers'), [{ operation: 'add', type: 'member', values: [personDn('bob')] }]);
    }
    expect(await directory.groupsOf(personDn('bob'))).toEqual(['logtrace-viewers']);
  });

  it('a bad service password is LdapUnavailableError (service_bind_rejected), not "no user"', async () => {
    const wrong = new LdapDirectory(configFor(slapd.url, { bind_password: 'wrong' }), { logger });
    const error = await rejection(wrong.findUser('alice@acme.ru'));
    expect(error).toBeInstanceOf(LdapUnavailableError);
    expect((error as LdapUnavailableError).reason).toBe('service_bind_rejected');
  });

  it('the directory object does not expose the service password', async () => {
    const { inspect } = await import('node:util');
    expect(JSON.stringify(directory)).not.toContain(READER_PASSWORD);
    expect(inspect(directory, { depth: 5 })).not.toContain(READER_PASSWORD);
  });

  it('reads the service password from bind_password_file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lt-ldap-secret-'));
    try {
      const file = path.join(dir, 'bind-password');
      writeFileSync(file, `${READER_PASSWORD}\n`);
      const fromFile = new LdapDirectory(configFor(slapd.url, { bind_password: undefined, bind_password_file: file }), { logger });
      expect((await fromFile.findUser('bob@acme.ru'))?.id).toBe('bob');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('paging', () => {
  const extra = Array.from({ length: 30 }, (_, i) => `user${String(i).padStart(2, '0')}`);

  beforeAll(async () => {
    for (const uid of extra) {
      await slapd.addPerson({ uid, cn: `User ${uid}`, mail: `${uid}@acme.ru`, password: `${uid}-pass` });
    }
    await slapd.modify(groupDn('platform-team'), [{ operation: 'add', type: 'member', values: extra.slice(0, 3).map(personDn) }]);
  });

  afterAll(async () => {
    await slapd.modify(groupDn('platform-team'), [{ operation: 'delete', type: 'member', values: extra.slice(0, 3).map(personDn) }]);
    for (const uid of extra) await slapd.del(personDn(uid));
  });

  it('the server refuses the reader more than 20 entries without paging', async () => {
    const client = new Client({ url: slapd.url });
    try {
      await client.bind(READER_DN, READER_PASSWORD);
      await expect(client.search(PEOPLE_DN, { scope: 'sub', filter: '(mail=*)' })).rejects.toBeInstanceOf(SizeLimitExceededError);
    } finally {
      await client.unbind();
    }
  });

  it('listUsers pages through everyone (page_size 10) with their groups', async () => {
    const paged = new LdapDirectory(configFor(slapd.url, { page_size: 10 }), { logger });
    const users = await paged.listUsers();
    expect(users).toHaveLength(35);
    expect(users.map((u) => u.id)).toEqual([...['alice', 'bob', 'carol', 'dave', 'erin'], ...extra].sort());
    const byId = new Map(users.map((u) => [u.id, u]));
    expect(byId.get('alice')).toEqual({ dn: personDn('alice'), id: 'alice', email: 'alice@acme.ru', name: 'Alice Admin', groups: ['logtrace-admins', 'logtrace-viewers'], disabled: false });
    expect(byId.get('carol')?.groups).toEqual(['logtrace-admins', 'platform-team']);
    expect(byId.get('dave')?.groups).toEqual(['loop-a', 'loop-b']);
    expect(byId.get('user00')?.groups).toEqual(['logtrace-admins', 'platform-team']);
    expect(byId.get('user29')?.groups).toEqual([]);
  });

  it('a page size above the server limit still lists everyone (the server shortens the pages)', async () => {
    expect(await directory.listUsers()).toHaveLength(35);
  });
});

describe('people the directory disables (user_search.disabled_filter)', () => {
  const userSearch = { base_dn: PEOPLE_DN, filter: '(mail={email})', id_attr: 'uid', email_attr: 'mail', name_attr: 'cn' };
  const withFilter = () => new LdapDirectory(configFor(slapd.url, { user_search: { ...userSearch, disabled_filter: '(employeeType=disabled)' } }), { logger });

  it('takes only a parenthesised RFC 4515 filter', () => {
    for (const bad of ['employeeType=disabled', '(employeeType=disabled', '(&(a=b)', '']) {
      const parsed = ldapConfigSchema.safeParse({ ...configFor('ldap://127.0.0.1:389'), bind_password: 'x', user_search: { ...userSearch, disabled_filter: bad } });
      expect(parsed.success, bad).toBe(false);
      expect(JSON.stringify(parsed.error?.issues)).toContain('disabled_filter');
    }
    expect(configFor('ldap://127.0.0.1:389', { user_search: { ...userSearch, disabled_filter: '(pwdAccountLockedTime=*)' } }).user_search.disabled_filter).toBe('(pwdAccountLockedTime=*)');
  });

  it('defaults to the ACCOUNTDISABLE bit of userAccountControl on Active Directory, to none elsewhere', () => {
    expect(disabledFilter(configFor('ldap://127.0.0.1:389', { active_directory: true }))).toBe(AD_DISABLED_FILTER);
    expect(AD_DISABLED_FILTER).toBe('(userAccountControl:1.2.840.113556.1.4.803:=2)');
    expect(disabledFilter(configFor('ldap://127.0.0.1:389'))).toBeUndefined();
    expect(disabledFilter(configFor('ldap://127.0.0.1:389', { active_directory: true, user_search: { ...userSearch, disabled_filter: '(lockoutTime>=1)' } }))).toBe('(lockoutTime>=1)');
  });

  it('lists a disabled person as disabled, and neither finds nor signs them in', async () => {
    await slapd.modify(personDn('erin'), [{ operation: 'add', type: 'employeeType', values: ['disabled'] }]);
    try {
      const filtered = withFilter();
      const listed = new Map((await filtered.listUsers()).map((u) => [u.id, u]));
      expect(listed.get('erin')).toMatchObject({ disabled: true });
      expect(listed.get('alice')).toMatchObject({ disabled: false });
      expect(await filtered.findUser(PEOPLE.erin.mail)).toBeUndefined();
      expect(await rejection(filtered.authenticate(PEOPLE.erin.mail, PEOPLE.erin.password))).toMatchObject({ code: 'invalid_credentials' });
      await expect(filtered.authenticate(PEOPLE.bob.mail, PEOPLE.bob.password)).resolves.toMatchObject({ id: 'bob' });
      // Without the filter the same entry is an ordinary person.
      await expect(directory.authenticate(PEOPLE.erin.mail, PEOPLE.erin.password)).resolves.toMatchObject({ id: 'erin' });
      expect((await directory.listUsers()).find((u) => u.id === 'erin')).toMatchObject({ disabled: false });
    } finally {
      await slapd.modify(personDn('erin'), [{ operation: 'delete', type: 'employeeType', values: ['disabled'] }]);
    }
  });
});

describe('ldapConnector', () => {
  const deps = (): ConnectorDeps => ({ issuer: 'http://127.0.0.1', store: {} as Store, logger, fetch });
  const common = { id: 'acme-ldap', type: 'ldap', name: 'ACME directory', email_domains: ['acme.ru'], require_mfa: false, trust_email: undefined };

  async function connector(trust_email?: boolean): Promise<PasswordConnector> {
    const created = await ldapConnector.create({ ...common, trust_email, ldap: configFor(slapd.url) }, deps());
    if (created.kind !== 'password') throw new Error('expected a password connector');
    return created;
  }

  it('is a password connector that cannot prove MFA', () => {
    expect(ldapConnector.type).toBe('ldap');
    expect(ldapConnector.canProveMfa).toBe(false);
  });

  it('login → Identity', async () => {
    const login = await (await connector()).login({ username: 'carol@acme.ru', password: PEOPLE.carol.password });
    expect(login).toEqual({
      connector_id: 'acme-ldap',
      subject: 'carol',
      // RFC 4516: the server, the people base DN and the id attribute the subject comes from.
      issuer: `${slapd.url}/${PEOPLE_DN}?uid`,
      email: 'carol@acme.ru',
      email_verified: true,
      name: 'Carol Platform',
      groups: ['logtrace-admins', 'platform-team'],
      amr: ['pwd'],
      acr: null,
    });
  });

  it('the connector object carries no LDAP settings (no bind password to leak)', async () => {
    expect(JSON.stringify(await connector())).not.toContain(READER_PASSWORD);
  });

  it('trust_email: false → email_verified false', async () => {
    const login = await (await connector(false)).login({ username: 'bob@acme.ru', password: PEOPLE.bob.password });
    expect(login.email_verified).toBe(false);
  });

  it('wrong password → ConnectorError invalid_credentials', async () => {
    const error = await rejection((await connector()).login({ username: 'bob@acme.ru', password: 'nope' }));
    expect(error).toBeInstanceOf(ConnectorError);
    expect((error as ConnectorError).code).toBe('invalid_credentials');
  });

  it('a directory error (wrong base DN) → ConnectorError upstream_error', async () => {
    const broken = configFor(slapd.url, { user_search: { base_dn: 'ou=nowhere,dc=acme,dc=ru' } });
    const created = await ldapConnector.create({ ...common, ldap: broken }, deps());
    if (created.kind !== 'password') throw new Error('expected a password connector');
    const error = await rejection(created.login({ username: 'bob@acme.ru', password: PEOPLE.bob.password }));
    expect(error).toBeInstanceOf(ConnectorError);
    expect((error as ConnectorError).code).toBe('upstream_error');
  });

  it('without ldap settings, create fails with a config error', () => {
    expect(() => ldapConnector.create({ ...common }, deps())).toThrow(/no ldap settings/);
  });
});

describe('an unreachable directory', () => {
  let blackhole: Server;
  const sockets = new Set<Socket>();
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => (blackhole ? blackhole.close(() => resolve()) : resolve()));
  });

  it('a server that accepts but never answers → LdapUnavailableError after timeout_ms', async () => {
    blackhole = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    const address = blackhole.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    const silent = new LdapDirectory(configFor(`ldap://127.0.0.1:${address.port}`, { timeout_ms: 300 }), { logger });
    const started = Date.now();
    const error = await rejection(silent.groupsOf(personDn('alice')));
    expect(error).toBeInstanceOf(LdapUnavailableError);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('slapd stopped → LdapUnavailableError quickly (never "no groups"), and recovery after start()', async () => {
    await slapd.stop();
    try {
      for (const attempt of [
        () => directory.groupsOf(personDn('alice')),
        () => directory.findUser('alice@acme.ru'),
        () => directory.authenticate('alice@acme.ru', PEOPLE.alice.password),
        () => directory.listUsers(),
      ]) {
        const started = Date.now();
        const error = await rejection(attempt());
        expect(error).toBeInstanceOf(LdapUnavailableError);
        expect((error as LdapUnavailableError).reason).toBe('unreachable');
        expect(Date.now() - started).toBeLessThan(2000);
      }
      const created = await ldapConnector.create(
        { id: 'acme-ldap', type: 'ldap', name: 'ACME', email_domains: [], require_mfa: false, trust_email: undefined, ldap: configFor(slapd.url) },
        { issuer: 'http://127.0.0.1', store: {} as Store, logger, fetch },
      );
      if (created.kind !== 'password') throw new Error('expected a password connector');
      const error = await rejection(created.login({ username: 'alice@acme.ru', password: PEOPLE.alice.password }));
      expect(error).toBeInstanceOf(ConnectorError);
      expect((error as ConnectorError).code).toBe('upstream_error');
    } finally {
      await slapd.start();
    }
    expect(await directory.groupsOf(personDn('alice'))).toEqual(['logtrace-admins', 'logtrace-viewers']);
    expect((await directory.authenticate('alice@acme.ru', PEOPLE.alice.password)).id).toBe('alice');
  });
});

describe('logs', () => {
  it('never contain a password', () => {
    expect(logged.length).toBeGreaterThan(0); // the outage tests above did log
    for (const secret of [READER_PASSWORD, ...Object.values(PEOPLE).map((p) => p.password), 'not-alice-pass']) {
      expect(logged).not.toContain(secret);
    }
  });
});
