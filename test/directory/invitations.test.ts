import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedStore } from '../../src/store/embedded.ts';
import type { Store } from '../../src/store/index.ts';
import { InvitationRepository } from '../../src/directory/index.ts';

const ADMIN = { type: 'user' as const, id: 'user-admin' };

describe('InvitationRepository on the embedded store', () => {
  let dir: string;
  let store: Store;
  let invitations: InvitationRepository;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lt-invitations-'));
    store = await openEmbeddedStore({ path: dir });
    invitations = new InvitationRepository(store);
  });
  afterAll(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('stores only the SHA-256 of a ≥160-bit token, finds the invitation by it, and lists it as pending', async () => {
    const { invitation, token } = await invitations.create({ email: 'New.Person@Example.com', project_id: 'prj_a', role: 'viewer', invited_by: ADMIN });
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/); // 24 random bytes = 192 bits
    expect(invitation).toMatchObject({ email: 'new.person@example.com', project_id: 'prj_a', role: 'viewer', status: 'pending', invited_by: ADMIN });
    expect(invitation.id).toMatch(/^inv_/);
    expect(Date.parse(invitation.expires_at) - Date.parse(invitation.created_at)).toBe(7 * 86_400_000);
    expect('token_hash' in invitation).toBe(false);

    const raw = await store.get<Record<string, unknown>>(`invitation:{${invitation.id}}`);
    expect(raw!.token_hash).toBe(createHash('sha256').update(token).digest('hex'));
    expect(JSON.stringify(raw)).not.toContain(token);
    expect(await store.ttl(`invitation:{${invitation.id}}`)).toBeGreaterThan(7 * 86_400);

    expect(await invitations.findByToken(token)).toMatchObject({ ok: true, invitation: { id: invitation.id } });
    expect(await invitations.findByToken(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`)).toEqual({ ok: false, code: 'not_found' });
    expect(await invitations.findByToken('short')).toEqual({ ok: false, code: 'not_found' });
    expect((await invitations.listPending('prj_a')).map((i) => i.id)).toEqual([invitation.id]);
    expect((await invitations.pendingForEmail('NEW.person@example.com')).map((i) => i.id)).toEqual([invitation.id]);
  });

  it('replaces a pending invitation for the same email and project, even when two are made at once', async () => {
    const first = await invitations.create({ email: 'twice@example.com', project_id: 'prj_a', role: 'viewer', invited_by: ADMIN });
    const other = await invitations.create({ email: 'twice@example.com', project_id: 'prj_b', role: 'member', invited_by: ADMIN });
    const second = await invitations.create({ email: 'twice@example.com', project_id: 'prj_a', role: 'admin', invited_by: ADMIN });
    expect(second.replaced).toEqual([first.invitation.id]);
    expect(await invitations.findByToken(first.token)).toMatchObject({ ok: false, code: 'revoked', invitation: { revoked_reason: 'replaced' } });
    expect((await invitations.pendingForEmail('twice@example.com')).map((i) => i.id).sort()).toEqual([second.invitation.id, other.invitation.id].sort());

    const racing = await Promise.all([1, 2, 3].map(() => invitations.create({ email: 'race@example.com', project_id: 'prj_a', role: 'viewer', invited_by: ADMIN })));
    const live = await Promise.all(racing.map((r) => invitations.findByToken(r.token)));
    expect(live.filter((r) => r.ok)).toHaveLength(1);
    expect((await invitations.listPending('prj_a')).filter((i) => i.email === 'race@example.com')).toHaveLength(1);
  });

  it('accepts atomically: of two concurrent accepts exactly one wins; the link then says "accepted"', async () => {
    const { invitation, token } = await invitations.create({ email: 'once@example.com', project_id: 'prj_a', role: 'member', invited_by: ADMIN });
    const results = await Promise.all([invitations.accept(invitation.id, 'user-1'), invitations.accept(invitation.id, 'user-2')]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.find((r) => !r.ok)).toMatchObject({ ok: false });
    const winner = results.find((r) => r.ok)!;
    expect(winner).toMatchObject({ ok: true, invitation: { status: 'accepted' } });
    expect(await invitations.findByToken(token)).toMatchObject({ ok: false, code: 'accepted' });
    expect(await invitations.revoke(invitation.id, ADMIN)).toMatchObject({ ok: false, code: 'accepted' });
    expect(await invitations.pendingForEmail('once@example.com')).toEqual([]);
  });

  it('revoked and expired invitations are not pending and cannot be accepted', async () => {
    const revoked = await invitations.create({ email: 'gone@example.com', project_id: 'prj_c', role: 'viewer', invited_by: ADMIN });
    expect(await invitations.revoke(revoked.invitation.id, ADMIN)).toMatchObject({ ok: true, invitation: { status: 'revoked', revoked_by: ADMIN } });
    expect(await invitations.findByToken(revoked.token)).toMatchObject({ ok: false, code: 'revoked' });
    expect(await invitations.accept(revoked.invitation.id, 'user-3')).toMatchObject({ ok: false, code: 'revoked' });

    const expiring = await invitations.create({ email: 'late@example.com', project_id: 'prj_c', role: 'viewer', invited_by: ADMIN, expires_in_days: 1 });
    const key = `invitation:{${expiring.invitation.id}}`;
    const record = (await store.get<Record<string, unknown>>(key))!;
    await store.put(key, { ...record, expires_at: new Date(Date.now() - 1000).toISOString() }, 3600);
    expect(await invitations.findByToken(expiring.token)).toMatchObject({ ok: false, code: 'expired' });
    expect(await invitations.accept(expiring.invitation.id, 'user-4')).toMatchObject({ ok: false, code: 'expired' });
    expect(await invitations.listPending('prj_c')).toEqual([]);
    expect(await invitations.revoke('inv_doesnotexist0000', ADMIN)).toEqual({ ok: false, code: 'not_found' });
    await expect(invitations.create({ email: 'x@example.com', project_id: 'prj_c', role: 'viewer', invited_by: ADMIN, expires_in_days: 31 })).rejects.toThrow(RangeError);
    await expect(invitations.create({ email: 'not an email', project_id: 'prj_c', role: 'viewer', invited_by: ADMIN })).rejects.toThrow(RangeError);
  });
});
