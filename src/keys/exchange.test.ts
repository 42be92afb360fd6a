import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../store/index.ts';
import { AuditLog } from '../audit/index.ts';
import { AccessPolicy } from '../access/index.ts';
import { ProjectRepository } from '../directory/index.ts';
import { KeyRepository } from './repository.ts';
import { keyExchange } from './exchange.ts';

describe('keyExchange: the keys side of the RFC 8693 exchange', () => {
  let dir: string;
  let store: Store;
  let keys: KeyRepository;
  let audit: AuditLog;
  let exchange: ReturnType<typeof keyExchange>;
  let projectId: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lt-exchange-'));
    store = await openStore({ driver: 'embedded', path: dir });
    const projects = new ProjectRepository(store);
    keys = new KeyRepository(store, projects, { logger: pino({ level: 'silent' }) });
    audit = new AuditLog(store);
    exchange = keyExchange({ keys, access: new AccessPolicy(projects), audit });
    projectId = (await projects.ensureRoot('Acme')).project.id;
  });
  afterEach(async () => {
    await keys.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('verifies from the caller address: a key limited to other addresses is refused', async () => {
    const made = await keys.create({ project_id: projectId, name: 'ingest', scopes: ['read:logs'], environment: 'live', ttl_days: 90, ip_allowlist: ['10.0.0.0/8'], auto_rotate: false }, { type: 'system', id: 'test' });
    expect(await exchange.verifyApiKey(made.key, '10.1.2.3')).toMatchObject({ valid: true, project_id: projectId, scopes: ['read:logs'] });
    expect(await exchange.verifyApiKey(made.key, '192.0.2.1')).toMatchObject({ valid: false });
    expect(await exchange.verifyApiKey(`${made.key.slice(0, -1)}x`, '10.1.2.3')).toMatchObject({ valid: false });
  });

  it('never widens: the token gets the key scopes asked for, and a scope the key lacks is refused', () => {
    expect(exchange.exchangeScopes(['read:logs', 'write:alerts'], undefined)).toEqual({ scopes: ['read:logs', 'write:alerts'], refused: [] });
    expect(exchange.exchangeScopes(['read:logs'], ['read:logs', 'admin:projects'])).toEqual({ scopes: ['read:logs'], refused: ['admin:projects'] });
  });

  it('audits every attempt: a refused one anonymously with its reason, a granted one as the key', async () => {
    await exchange.onExchange({ ok: false, key_id: null, project_id: null, client_ip: '192.0.2.1', code: 'not_found' });
    await exchange.onExchange({ ok: true, key_id: 'key_1', project_id: projectId, client_ip: '10.1.2.3' });
    const events = await audit.list();
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ actor: { type: 'anonymous', id: null }, action: 'key.exchanged', outcome: 'failure', ip: '192.0.2.1', detail: { code: 'not_found' } });
    expect(events[1]).toMatchObject({ actor: { type: 'api_key', id: 'key_1' }, action: 'key.exchanged', target: { type: 'api_key', id: 'key_1' }, project_id: projectId, outcome: 'success', ip: '10.1.2.3' });
    expect(events[1]).not.toHaveProperty('detail');
  });
});
