import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store, SecretBox } from '../store/index.ts';
import { AuditLog } from '../audit/index.ts';
import { ConnectorError, type Connector, type Identity } from './types.ts';
import { UpstreamSessions } from '../directory/index.ts';
import { UpstreamSessionCheck } from './upstream-check.ts';

const ISSUER = 'https://idp.example.test';
const identity = (over: Partial<Identity> = {}): Identity => ({ connector_id: 'corp', subject: 'u-1', issuer: ISSUER, email: 'a@corp.test', email_verified: true, name: 'A', groups: ['eng'], amr: ['pwd'], acr: null, ...over });

/** An upstream that answers refreshes as told (the upstream is the peer here, the decision is under test). */
function upstream(answer: (refreshToken: string) => Promise<Identity>): Connector & { refresh: (input: { identity: Identity; refreshToken: string }) => Promise<Identity>; seen: string[] } {
  const seen: string[] = [];
  return {
    kind: 'redirect',
    id: 'corp',
    type: 'oidc',
    name: 'Corp',
    email_domains: [],
    require_mfa: false,
    trust_email: undefined,
    trustsIssuer: (issuer) => issuer === ISSUER,
    begin: () => Promise.reject(new Error('not used')),
    complete: () => Promise.reject(new Error('not used')),
    seen,
    refresh: ({ refreshToken }) => {
      seen.push(refreshToken);
      return answer(refreshToken);
    },
  };
}

describe('UpstreamSessionCheck: the upstream re-check at our refresh_token grant', () => {
  let dir: string;
  let store: Store;
  let sessions: UpstreamSessions;
  let audit: AuditLog;
  let applied: Array<{ userId: string; groups: string[]; source: string }>;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lt-upstream-'));
    store = await openStore({ driver: 'embedded', path: dir });
    sessions = new UpstreamSessions(store, new SecretBox(store, randomBytes(32)));
    audit = new AuditLog(store);
    applied = [];
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  function check(connector: Connector, options: { checkOnRefresh?: boolean; upstreamNow?: string; legacyTrusted?: boolean } = {}) {
    return new UpstreamSessionCheck({
      sessions,
      connections: {
        connectors: new Map([[connector.id, connector]]),
        configs: new Map([[connector.id, { check_upstream_on_refresh: options.checkOnRefresh ?? true }]]),
        upstreamOf: () => options.upstreamNow ?? ISSUER,
        legacyLinksTrusted: async () => options.legacyTrusted ?? true,
        sourceOf: (id) => `oidc:${id}`,
      },
      groupRoles: { applyIdentity: async (userId, id, source) => (applied.push({ userId, groups: id.groups, source }), []) },
      audit,
      logger: pino({ level: 'silent' }),
      sessionTtlSeconds: 3600,
    });
  }

  it('is ok without an upstream session, or for a connection that does not ask for the check', async () => {
    const idp = upstream(async () => identity());
    expect(await check(idp).check('user-1')).toBe('ok');
    await sessions.save('user-1', identity(), 'rt-1', 3600);
    expect(await check(idp, { checkOnRefresh: false }).check('user-1')).toBe('ok');
    expect(idp.seen).toEqual([]);
  });

  it('asks the upstream with the kept refresh token, keeps the rotated one and applies the fresh groups', async () => {
    const idp = upstream(async () => identity({ groups: ['eng', 'ops'], upstream: { refresh_token: 'rt-2' } }));
    await sessions.save('user-1', identity(), 'rt-1', 3600);
    expect(await check(idp).check('user-1')).toBe('ok');
    expect(idp.seen).toEqual(['rt-1']);
    expect((await sessions.load('user-1'))?.refresh_token).toBe('rt-2');
    expect(applied).toEqual([{ userId: 'user-1', groups: ['eng', 'ops'], source: 'oidc:corp' }]);
  });

  it('is gone when the upstream refuses: the session is forgotten and the refusal audited', async () => {
    const idp = upstream(async () => Promise.reject(new ConnectorError('invalid_token', 'refresh token revoked')));
    await sessions.save('user-1', identity(), 'rt-1', 3600);
    expect(await check(idp).check('user-1')).toBe('gone');
    expect(await sessions.load('user-1')).toBeUndefined();
    const [event] = await audit.list();
    expect(event).toMatchObject({ action: 'session.upstream_revoked', target: { type: 'user', id: 'user-1' }, outcome: 'failure', detail: { connector: 'corp', reason: 'invalid_token' } });
    expect(applied).toEqual([]);
  });

  it('is unavailable when the upstream cannot be asked: the session stays for the next try', async () => {
    const idp = upstream(async () => Promise.reject(new ConnectorError('upstream_error', 'timed out')));
    await sessions.save('user-1', identity(), 'rt-1', 3600);
    expect(await check(idp).check('user-1')).toBe('unavailable');
    expect((await sessions.load('user-1'))?.refresh_token).toBe('rt-1');
    expect(await audit.list()).toEqual([]);
  });

  it('a session saved before issuers were recorded is not sent to an upstream the connection now points at', async () => {
    const idp = upstream(async () => identity());
    await sessions.save('user-1', identity({ issuer: '' }), 'rt-1', 3600);
    expect(await check(idp, { upstreamNow: 'https://elsewhere.example.test', legacyTrusted: false }).check('user-1')).toBe('gone');
    expect(idp.seen).toEqual([]);
    expect(await sessions.load('user-1')).toBeUndefined();
  });
});
