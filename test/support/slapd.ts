/**
 * A real OpenLDAP `slapd` for tests: Debian's /usr/sbin/slapd run from a private generated slapd.conf
 * (back_mdb in a temp directory), on a free port of 127.0.0.1, seeded with the ACME directory below.
 *
 * `stop()` / `start()` restart it on the same port with the same data (outage and recovery tests).
 * Servers are killed when the test process exits, and a tiny watchdog kills them if the test process
 * dies without running exit handlers. Data is loaded and changed with ldapts as the rootdn.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Attribute, Change, Client } from 'ldapts';
import { freePort } from './ports.ts';

export const SUFFIX = 'dc=acme,dc=ru';
export const ROOT_DN = `cn=admin,${SUFFIX}`;
export const ROOT_PASSWORD = 'root-secret';
export const READER_DN = `cn=reader,${SUFFIX}`;
export const READER_PASSWORD = 'reader-secret';
export const PEOPLE_DN = `ou=people,${SUFFIX}`;
export const GROUPS_DN = `ou=groups,${SUFFIX}`;

export const personDn = (uid: string) => `uid=${uid},${PEOPLE_DN}`;
export const groupDn = (cn: string) => `cn=${cn},${GROUPS_DN}`;

/** The `ldap:` settings that read the seeded directory as the reader account (people by mail, nested groups). */
export function directorySettings(url: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    url,
    bind_dn: READER_DN,
    bind_password: READER_PASSWORD,
    user_search: { base_dn: PEOPLE_DN, filter: '(mail={email})', id_attr: 'uid', email_attr: 'mail', name_attr: 'cn' },
    group_search: { base_dn: GROUPS_DN, filter: '(member={dn})', name_attr: 'cn', nested: true },
    ...overrides,
  };
}

export interface SeedPerson {
  uid: string;
  cn: string;
  mail: string;
  password: string;
}

/**
 * The seeded people. Groups: alice ∈ logtrace-admins, logtrace-viewers; bob ∈ logtrace-viewers;
 * carol ∈ platform-team ∈ logtrace-admins (nested); dave ∈ loop-a ∈ loop-b ∈ loop-a (a cycle);
 * erin ∈ nothing.
 */
export const PEOPLE: Record<'alice' | 'bob' | 'carol' | 'dave' | 'erin', SeedPerson> = {
  alice: { uid: 'alice', cn: 'Alice Admin', mail: 'alice@acme.ru', password: 'alice-pass' },
  bob: { uid: 'bob', cn: 'Bob Viewer', mail: 'bob@acme.ru', password: 'bob-pass' },
  carol: { uid: 'carol', cn: 'Carol Platform', mail: 'carol@acme.ru', password: 'carol-pass' },
  dave: { uid: 'dave', cn: 'Dave Loop', mail: 'dave@acme.ru', password: 'dave-pass' },
  erin: { uid: 'erin', cn: 'Erin Nobody', mail: 'erin@acme.ru', password: 'erin-pass' },
};

/** groupOfNames requires at least one member. */
export const GROUPS: Record<string, string[]> = {
  'logtrace-admins': [personDn('alice'), groupDn('platform-team')],
  'logtrace-viewers': [personDn('alice'), personDn('bob')],
  'platform-team': [personDn('carol')],
  'loop-a': [personDn('dave'), groupDn('loop-b')],
  'loop-b': [groupDn('loop-a')],
};

export interface SlapdServer {
  /** `ldap://127.0.0.1:<port>` */
  url: string;
  port: number;
  dir: string;
  /** SIGTERM; resolves when slapd has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same database; resolves when it answers a bind. */
  start(): Promise<void>;
  /** Adds an entry as the rootdn. */
  add(dn: string, attributes: Record<string, string | string[]>): Promise<void>;
  /** Modifies an entry as the rootdn. */
  modify(dn: string, changes: Array<{ operation: 'add' | 'delete' | 'replace'; type: string; values: string[] }>): Promise<void>;
  /** Deletes an entry as the rootdn. */
  del(dn: string): Promise<void>;
  /** Adds a person under ou=people with an {SSHA} userPassword. */
  addPerson(person: SeedPerson): Promise<void>;
  /** Stops the server and removes its directory. */
  dispose(): Promise<void>;
}

export interface SlapdOptions {
  port?: number;
  /** The binary; default /usr/sbin/slapd (or SLAPD_BIN). */
  binary?: string;
  startTimeoutMs?: number;
}

const running = new Set<ChildProcess>();
const directories = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
    for (const dir of directories) rmSync(dir, { recursive: true, force: true });
  });
}

function watchdog(pid: number, dir: string): void {
  const script =
    'while kill -0 "$0" 2>/dev/null; do kill -0 "$1" 2>/dev/null || exit 0; sleep 1; done; kill -9 "$1" 2>/dev/null; sleep 1; rm -rf "$2"';
  const guard = spawn('sh', ['-c', script, String(process.pid), String(pid), dir], { stdio: 'ignore', detached: true });
  guard.on('error', () => {});
  guard.unref();
}

/** RFC 2307 `{SSHA}`: base64(SHA-1(password ‖ salt) ‖ salt), as slappasswd writes it. */
export function ssha(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

function slapdConf(dir: string): string {
  return `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile ${dir}/slapd.pid
argsfile ${dir}/slapd.args
# Like many directories in the wild, accept an "unauthenticated" simple bind (a DN, no password;
# RFC 4513 §5.1.2) as anonymous success: a client that forwards an empty password must not take it for proof.
allow bind_anon_dn
modulepath /usr/lib/ldap
moduleload back_mdb

database mdb
maxsize 104857600
suffix "${SUFFIX}"
rootdn "${ROOT_DN}"
rootpw ${ROOT_PASSWORD}
directory ${dir}/db
index objectClass eq
index mail,uid,cn eq
index member eq
# The reader gets at most 20 entries per search unless it pages (RFC 2696), so a test can tell that
# a client really pages: an unpaged search of more people fails with sizeLimitExceeded.
limits dn.exact="${READER_DN}" size.soft=20 size.hard=20 size.prtotal=unlimited

# Passwords: bind only. Everything else: the reader service account reads, nobody else (not even
# anonymous) sees anything, so the client must search with its service bind.
access to attrs=userPassword
  by anonymous auth
  by self auth
  by * none
access to *
  by dn.exact="${READER_DN}" read
  by self read
  by * none
`;
}

export async function startSlapd(options: SlapdOptions = {}): Promise<SlapdServer> {
  installExitHook();
  const binary = options.binary ?? process.env.SLAPD_BIN ?? '/usr/sbin/slapd';
  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  const port = options.port ?? (await freePort());
  const url = `ldap://127.0.0.1:${port}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'lt-slapd-'));
  directories.add(dir);
  mkdirSync(path.join(dir, 'db'));
  const conf = path.join(dir, 'slapd.conf');
  writeFileSync(conf, slapdConf(dir));

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';

  async function start(): Promise<void> {
    if (child) throw new Error(`slapd on port ${port} is already running`);
    output = '';
    // -d none: stay in the foreground (so we own the process) without debug output.
    const proc = spawn(binary, ['-f', conf, '-h', `${url}/`, '-d', 'none'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    running.add(proc);
    const record = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-4000);
    };
    proc.stdout?.on('data', record);
    proc.stderr?.on('data', record);
    let exitInfo: string | undefined;
    exited = new Promise((resolve) => {
      const done = (info: string) => {
        exitInfo = info;
        running.delete(proc);
        if (child === proc) child = undefined;
        resolve();
      };
      proc.once('exit', (code, signal) => done(`code ${code}, signal ${signal}`));
      proc.once('error', (error) => done(`spawn error: ${error.message}`));
    });
    if (proc.pid !== undefined) watchdog(proc.pid, dir);

    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (exitInfo !== undefined) throw new Error(`slapd on port ${port} exited during start-up (${exitInfo}):\n${output}`);
      if (await answersBind(url)) return;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`slapd on port ${port} did not answer within ${startTimeoutMs} ms:\n${output}`);
      }
      await delay(50);
    }
  }

  async function stop(): Promise<void> {
    const proc = child;
    if (!proc) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  async function asRoot<T>(work: (client: Client) => Promise<T>): Promise<T> {
    const client = new Client({ url, timeout: 5000, connectTimeout: 2000 });
    try {
      await client.bind(ROOT_DN, ROOT_PASSWORD);
      return await work(client);
    } finally {
      await client.unbind().catch(() => {});
    }
  }

  const add = (dn: string, attributes: Record<string, string | string[]>) => asRoot((c) => c.add(dn, attributes));
  const addPerson = (p: SeedPerson) =>
    add(personDn(p.uid), {
      objectClass: ['inetOrgPerson'],
      uid: p.uid,
      cn: p.cn,
      sn: p.cn.split(' ').at(-1) ?? p.cn,
      mail: p.mail,
      userPassword: ssha(p.password),
    });

  await start();
  await seed(asRoot, addPerson);

  return {
    url,
    port,
    dir,
    start,
    stop,
    add,
    addPerson,
    modify: (dn, changes) =>
      asRoot((c) =>
        c.modify(
          dn,
          changes.map((ch) => new Change({ operation: ch.operation, modification: new Attribute({ type: ch.type, values: ch.values }) })),
        ),
      ),
    del: (dn) => asRoot((c) => c.del(dn)),
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
      directories.delete(dir);
    },
  };
}

async function seed(
  asRoot: <T>(work: (client: Client) => Promise<T>) => Promise<T>,
  addPerson: (p: SeedPerson) => Promise<void>,
): Promise<void> {
  await asRoot(async (c) => {
    await c.add(SUFFIX, { objectClass: ['dcObject', 'organization'], dc: 'acme', o: 'ACME' });
    await c.add(PEOPLE_DN, { objectClass: ['organizationalUnit'], ou: 'people' });
    await c.add(GROUPS_DN, { objectClass: ['organizationalUnit'], ou: 'groups' });
    await c.add(READER_DN, {
      objectClass: ['organizationalRole', 'simpleSecurityObject'],
      cn: 'reader',
      userPassword: ssha(READER_PASSWORD),
    });
  });
  for (const person of Object.values(PEOPLE)) await addPerson(person);
  // `member` values are plain DNs: without the refint overlay slapd does not check that they exist,
  // so groups may name groups added after them (and the loop-a/loop-b cycle can be written at all).
  await asRoot(async (c) => {
    for (const [cn, members] of Object.entries(GROUPS)) {
      await c.add(groupDn(cn), { objectClass: ['groupOfNames'], cn, member: members });
    }
  });
}

/** True when a fresh connection can bind as the rootdn within 1 s. */
async function answersBind(url: string): Promise<boolean> {
  const client = new Client({ url, timeout: 1000, connectTimeout: 1000 });
  try {
    await client.bind(ROOT_DN, ROOT_PASSWORD);
    return true;
  } catch {
    return false;
  } finally {
    await client.unbind().catch(() => {});
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
