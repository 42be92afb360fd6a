import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPeople, refusal, type People } from '../../test/support/people.ts';
import { AuditService } from './service.ts';
import type { AuditInput } from './index.ts';

let people: People;
let service: AuditService;
beforeEach(async () => {
  people = await openPeople();
  service = new AuditService({ log: people.auditLog, access: people.access, membersOf: (id) => people.membershipRepository.membersOf(id) });
});
afterEach(async () => {
  await people.close();
});

const event = (action: string, fields: Partial<AuditInput>): AuditInput => ({ actor: { type: 'system', id: null }, action, target: null, project_id: null, ip: null, user_agent: null, outcome: 'success', ...fields });

describe('AuditService', () => {
  it("an organisation's admin reads its projects' events and the unscoped ones about its members, never another organisation's", async () => {
    const admin = await people.person('admin@acme.example', { [people.acme]: 'admin' });
    const bob = await people.person('bob@acme.example', { [people.team]: 'member' });
    const carol = await people.person('carol@globex.example', { [people.globex]: 'member' });
    await people.auditLog.record(event('key.created', { project_id: people.team }));
    await people.auditLog.record(event('key.created', { project_id: people.globex }));
    await people.auditLog.record(event('user.signed_in', { actor: { type: 'user', id: bob.id } }));
    await people.auditLog.record(event('user.signed_in', { actor: { type: 'user', id: carol.id } }));
    const seen = await service.events(await admin.caller(), {});
    expect(seen.events.map((e) => [e.action, e.project_id ?? e.actor.id])).toEqual([
      ['key.created', people.team],
      ['user.signed_in', bob.id],
    ]);
    // Asking for another organisation's project is refused, not answered empty.
    expect(await refusal(service.events(await admin.caller(), { project_id: people.globex }))).toMatchObject({ code: 'forbidden' });
    expect((await service.events(await admin.caller(), { project_id: people.team })).events.map((e) => e.project_id)).toEqual([people.team]);
  });

  it('a member (no admin:projects anywhere) reads nothing; an operator reads everything', async () => {
    const bob = await people.person('bob@acme.example', { [people.team]: 'member' });
    await people.auditLog.record(event('key.created', { project_id: people.team }));
    expect(await refusal(service.events(await bob.caller(), {}))).toMatchObject({ code: 'forbidden' });
    expect((await service.events(people.operator, { action: 'key' })).events).toHaveLength(1);
  });
});
