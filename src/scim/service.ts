import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Store } from '../store/index.ts';
import { DomainError } from '../domain/index.ts';
import type { AuditLog } from '../audit/index.ts';
import type { AccessPolicy, Principal } from '../access/index.ts';
import type { ScimConnectionConfig } from '../connectors/connections.ts';
import { isEmailAddress, type GroupRoles, type IdentityRepository, type MembershipChange, type UpstreamSessions, type UserRepository } from '../directory/index.ts';
import { equalityOn, matches, type Filter } from './filter.ts';
import { applyPatch, groupFromJson, groupJson, GROUP_ATTRS, primaryEmail, SCHEMA_GROUP, SCHEMA_USER, userFromJson, userJson, USER_ATTRS, type ScimGroupAttrs, type ScimUserAttrs } from './resources.ts';
import { ScimRepository, type ScimGroupRecord, type ScimUserRecord } from './repository.ts';

export type { ScimGroupRecord, ScimUserRecord } from './repository.ts';

/**
 * SCIM provisioning (RFC 7643/7644) as a service: a SCIM connection's token (the principal) creates, changes
 * and deletes the accounts and groups of its connection. Plain inputs in, records out; every rule about
 * what the token may touch is the access policy's (src/access scim* methods).
 *
 * A SCIM User is an account (its id is the account id of /v1/users); a SCIM Group is a group of the group
 * source named by the connection id, so role mappings `{source: <connection>, group: <displayName>}` give
 * its members roles (cause `scim`). `active: false` and DELETE disable the account at once on every node
 * (oidc-provider's findAccount and the admin API read `disabled` on every use, so refresh tokens, sessions
 * and access to /v1 end); a deleted User's account stays, disabled, for the audit.
 *
 * Where the records are kept: ./repository.ts.
 */
export type ScimGroupView = ScimGroupRecord & { members: string[] };

/** Who is calling, for the audit log. */
export interface ScimRequestMeta {
  ip: string | null;
  user_agent: string | null;
}

interface ScimServiceDeps {
  store: Store;
  users: UserRepository;
  identities: IdentityRepository;
  groupRoles: GroupRoles;
  upstreamSessions: UpstreamSessions;
  audit: AuditLog;
  access: AccessPolicy;
  logger: Logger;
  /** The SCIM connections as the connection set knows them now. */
  scimConnections: () => Iterable<ScimConnectionConfig>;
}

/** The address an account is made with: the primary email, else a userName that is an address. */
function accountEmail(attrs: ScimUserAttrs): string | null {
  const email = primaryEmail(attrs);
  if (email && isEmailAddress(email)) return email.toLowerCase();
  return isEmailAddress(attrs.userName) ? attrs.userName.toLowerCase() : null;
}

function accountName(attrs: ScimUserAttrs): string | undefined {
  const name = attrs.displayName ?? attrs.name?.formatted ?? [attrs.name?.givenName, attrs.name?.familyName].filter(Boolean).join(' ');
  return name?.trim().slice(0, 200) || undefined;
}

/** A User as filters see it (and as the door renders it, with schemas and meta added). */
export function userResource(record: ScimUserRecord): Record<string, unknown> {
  return { id: record.id, ...userJson(record) };
}

export function groupResource(group: ScimGroupView): Record<string, unknown> {
  return { id: group.id, ...groupJson({ displayName: group.displayName, externalId: group.externalId, members: group.members }) };
}

const byCreation = <T extends { created_at: string; id: string }>(a: T, b: T) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id);

export class ScimService {
  private readonly deps: ScimServiceDeps;

  private readonly records: ScimRepository;

  constructor(deps: ScimServiceDeps) {
    this.deps = deps;
    this.records = new ScimRepository(deps.store);
  }

  private actor(connection: string) {
    return { type: 'system' as const, id: `scim:${connection}` };
  }

  private async auditEvent(connection: string, meta: ScimRequestMeta, action: string, target: { type: string; id: string }, detail: Record<string, unknown>): Promise<void> {
    await this.deps.audit.record({ actor: this.actor(connection), action, target, project_id: null, ip: meta.ip, user_agent: meta.user_agent, outcome: 'success', detail: { connection, ...detail } });
  }

  // ---- Users ----

  private async userRecord(principal: Principal, id: string): Promise<ScimUserRecord> {
    const record = await this.records.user(id);
    this.deps.access.requireScimResource(principal, record, 'User', id);
    return record!;
  }

  async getUser(principal: Principal, id: string): Promise<ScimUserRecord> {
    return this.userRecord(principal, id);
  }

  /** The connection's Users matching the filter, in a stable order (creation, then id): pages stay put. */
  async listUsers(principal: Principal, filter: Filter | null): Promise<ScimUserRecord[]> {
    const { connection_id } = this.deps.access.scimConnection(principal);
    const userName = filter ? equalityOn(filter, 'userName') : undefined;
    let ids: string[];
    if (userName !== undefined) {
      const id = await this.records.userIdByName(connection_id, userName);
      ids = id ? [id] : [];
    } else {
      ids = await this.records.userIds(connection_id);
    }
    const records = (await Promise.all(ids.map((id) => this.records.user(id)))).filter((r): r is ScimUserRecord => this.deps.access.scimOwns(principal, r));
    return records.filter((r) => !filter || matches(userResource(r), filter)).sort(byCreation);
  }

  /**
   * POST /Users. The account is made with the primary email (or a userName that is an address). An account
   * that already has that email is taken over only when the policy allows (scimMayClaim); otherwise, as
   * for a userName this connection already has, the answer is 409 uniqueness (what Okta and Entra expect).
   */
  async createUser(principal: Principal, attrs: ScimUserAttrs, meta: ScimRequestMeta): Promise<ScimUserRecord> {
    const { connection_id } = this.deps.access.scimConnection(principal);
    const { records } = this;
    const { users, identities } = this.deps;
    const email = accountEmail(attrs);
    if (!email) throw new DomainError('invalid', 'an account needs an email address: send userName as an address, or emails with a primary value');
    const taken = await records.userIdByName(connection_id, attrs.userName);
    if (taken && this.deps.access.scimOwns(principal, await records.user(taken))) {
      throw new DomainError('conflict', `a User with userName ${attrs.userName} exists (id ${taken})`);
    }
    let accountId: string;
    let claimed = false;
    const existing = await users.findByEmail(email);
    if (existing) {
      const record = await records.user(existing.id);
      const facts = { provisioned_by: record?.connection_id ?? null, source: existing.source, has_password: !!existing.password_hash, identity_connectors: (await identities.linkedTo(existing.id)).map((l) => String(l.connector_id)) };
      if ((record && !record.deleted) || !this.deps.access.scimMayClaim(principal, facts)) {
        throw new DomainError('conflict', `an account with the email ${email} exists and is not this connection's to provision`);
      }
      accountId = existing.id;
      claimed = true;
    } else {
      const made = await users.create({ email, name: accountName(attrs), email_verified: true, source: connection_id });
      if (!made.created) throw new DomainError('conflict', `an account with the email ${email} was created meanwhile`);
      accountId = made.user.id;
    }
    // Two creates racing for one userName: the index decides, the loser answers 409. An index entry is taken
    // over only when it names this account, or a User this connection deleted (a record not written yet is
    // a create in flight).
    if (!(await records.claimUserName(connection_id, attrs.userName, accountId))) {
      const winner = await records.userIdByName(connection_id, attrs.userName);
      const held = winner && winner !== accountId ? await records.user(winner) : undefined;
      if (winner && winner !== accountId && !(held?.deleted && held.connection_id === connection_id)) {
        throw new DomainError('conflict', `a User with userName ${attrs.userName} exists (id ${winner})`);
      }
      await records.takeOverUserName(connection_id, attrs.userName, accountId);
    }
    const now = new Date().toISOString();
    const previous = await records.user(accountId);
    const record: ScimUserRecord = { ...attrs, id: accountId, connection_id, deleted: false, created_at: previous?.created_at ?? now, updated_at: now };
    await records.addUser(record);
    await this.applyAccount(accountId, attrs, undefined, connection_id, meta);
    await this.auditEvent(connection_id, meta, 'scim.user_created', { type: 'user', id: accountId }, { userName: attrs.userName, active: attrs.active, ...(claimed ? { existing_account: true } : {}) });
    return record;
  }

  /** PUT /Users/{id}: the attributes given replace the ones kept. */
  async replaceUser(principal: Principal, id: string, attrs: ScimUserAttrs, meta: ScimRequestMeta): Promise<ScimUserRecord> {
    const record = await this.userRecord(principal, id);
    return this.saveUser(record, attrs, meta);
  }

  /** PATCH /Users/{id}. */
  async patchUser(principal: Principal, id: string, operations: Parameters<typeof applyPatch>[3], meta: ScimRequestMeta): Promise<ScimUserRecord> {
    const record = await this.userRecord(principal, id);
    return this.saveUser(record, userFromJson(applyPatch(userJson(record), USER_ATTRS, SCHEMA_USER, operations)), meta);
  }

  private async saveUser(record: ScimUserRecord, attrs: ScimUserAttrs, meta: ScimRequestMeta): Promise<ScimUserRecord> {
    const connection = record.connection_id;
    let takeOverName = false;
    if (attrs.userName.toLowerCase() !== record.userName.toLowerCase()) {
      if (!(await this.records.claimUserName(connection, attrs.userName, record.id))) {
        const holder = await this.records.userIdByName(connection, attrs.userName);
        const live = holder && holder !== record.id ? await this.records.user(holder) : undefined;
        if (live && !live.deleted && live.connection_id === connection) throw new DomainError('conflict', `a User with userName ${attrs.userName} exists (id ${holder})`);
        takeOverName = true;
      }
    }
    const next: ScimUserRecord = { ...record, ...attrs, updated_at: new Date().toISOString() };
    await this.records.updateUser(record, next, takeOverName);
    await this.applyAccount(record.id, attrs, record, connection, meta);
    await this.auditEvent(connection, meta, 'scim.user_updated', { type: 'user', id: record.id }, { userName: attrs.userName, active: attrs.active });
    return next;
  }

  /**
   * The account follows the SCIM User: its name, and `active`. Deactivation disables the account and
   * forgets its upstream session, audited as any disabling is; activation enables it again.
   */
  private async applyAccount(accountId: string, attrs: ScimUserAttrs, before: ScimUserAttrs | undefined, connection: string, meta: ScimRequestMeta): Promise<void> {
    const account = await this.deps.users.findById(accountId);
    if (!account) return;
    const name = accountName(attrs);
    const disabled = !attrs.active;
    if (name !== account.name || disabled !== !!account.disabled) await this.deps.users.update(accountId, { ...(name ? { name } : {}), disabled });
    if (disabled !== !!account.disabled || (before && before.active !== attrs.active)) {
      if (disabled) await this.deps.upstreamSessions.forget(accountId);
      await this.auditEvent(connection, meta, disabled ? 'user.disabled' : 'user.enabled', { type: 'user', id: accountId }, { via: 'scim' });
    }
  }

  /**
   * DELETE /Users/{id}: the resource is gone (404 from now on) and its group memberships with it; the
   * account stays, disabled, for the audit. A later POST with the same userName brings the account back.
   */
  async deleteUser(principal: Principal, id: string, meta: ScimRequestMeta): Promise<void> {
    const record = await this.userRecord(principal, id);
    const connection = record.connection_id;
    await this.records.deleteUser(record);
    await this.applyAccount(id, { ...record, active: false }, record, connection, meta);
    await this.recompute(id, connection, meta);
    await this.auditEvent(connection, meta, 'scim.user_deleted', { type: 'user', id }, { userName: record.userName });
  }

  /**
   * The account a first sign-in through `connectorId` links to (SignInDeps.provisionedAccount): a live User
   * of an enabled SCIM connection tied to that connector whose userName or primary email is this address.
   */
  async accountForSignIn(connectorId: string, email: string): Promise<string | undefined> {
    for (const connection of this.deps.scimConnections()) {
      if (!connection.enabled || connection.connector !== connectorId) continue;
      for (const lookup of [() => this.records.userIdByName(connection.id, email), () => this.records.userIdByEmail(connection.id, email)]) {
        const id = await lookup();
        const record = id ? await this.records.user(id) : undefined;
        if (!record || record.deleted || record.connection_id !== connection.id) continue;
        const matchesAddress = record.userName.toLowerCase() === email.toLowerCase() || primaryEmail(record)?.toLowerCase() === email.toLowerCase();
        if (matchesAddress) return record.id;
      }
    }
    return undefined;
  }

  /**
   * A deleted SCIM connection's groups give nothing any more: its Users lose the roles they held through
   * them (audited). The accounts stay as they are; they still sign in through their connector.
   */
  async connectionDeleted(connection: string, meta: ScimRequestMeta): Promise<void> {
    for (const id of await this.records.userIds(connection)) {
      const changes = await this.deps.groupRoles.apply(id, connection, [], 'scim');
      for (const change of changes) {
        await this.deps.audit.record({ actor: this.actor(connection), action: 'member.role_changed', target: { type: 'user', id }, project_id: change.project_id, ip: meta.ip, user_agent: meta.user_agent, outcome: 'success', detail: { cause: 'scim', source: connection, from: change.from, to: change.to, reason: 'connection_deleted' } });
      }
    }
  }

  // ---- Groups ----

  private async groupRecord(principal: Principal, id: string): Promise<ScimGroupRecord> {
    const record = await this.records.group(id);
    this.deps.access.requireScimResource(principal, record, 'Group', id);
    return record!;
  }

  private async withMembers(group: ScimGroupRecord): Promise<ScimGroupView> {
    return { ...group, members: (await this.records.members(group.id)).sort() };
  }

  async getGroup(principal: Principal, id: string): Promise<ScimGroupView> {
    return this.withMembers(await this.groupRecord(principal, id));
  }

  async listGroups(principal: Principal, filter: Filter | null): Promise<ScimGroupView[]> {
    const { connection_id } = this.deps.access.scimConnection(principal);
    const displayName = filter ? equalityOn(filter, 'displayName') : undefined;
    let ids: string[];
    if (displayName !== undefined) {
      const id = await this.records.groupIdByName(connection_id, displayName);
      ids = id ? [id] : [];
    } else {
      ids = await this.records.groupIds(connection_id);
    }
    const groups = (await Promise.all(ids.map((id) => this.records.group(id)))).filter((g): g is ScimGroupRecord => this.deps.access.scimOwns(principal, g));
    const views = await Promise.all(groups.sort(byCreation).map((g) => this.withMembers(g)));
    return views.filter((g) => !filter || matches(groupResource(g), filter));
  }

  /** Members must be live Users of this connection: anyone else's id is refused as if it did not exist. */
  private async checkMembers(principal: Principal, members: string[]): Promise<void> {
    for (const id of members) {
      if (!this.deps.access.scimOwns(principal, await this.records.user(id))) {
        throw new DomainError('invalid', `members: User ${id} not found`, 'members');
      }
    }
  }

  async createGroup(principal: Principal, attrs: ScimGroupAttrs, meta: ScimRequestMeta): Promise<ScimGroupView> {
    const { connection_id } = this.deps.access.scimConnection(principal);
    await this.checkMembers(principal, attrs.members);
    const id = randomUUID();
    // The name index decides between racing creates (a deleted group's entry is removed with it).
    if (!(await this.records.claimGroupName(connection_id, attrs.displayName, id))) {
      const holder = await this.records.groupIdByName(connection_id, attrs.displayName);
      throw new DomainError('conflict', `a Group named ${attrs.displayName} exists (id ${holder ?? 'being created'})`);
    }
    const now = new Date().toISOString();
    const group: ScimGroupRecord = { id, connection_id, displayName: attrs.displayName, externalId: attrs.externalId, created_at: now, updated_at: now };
    await this.records.addGroup(group);
    await this.auditEvent(connection_id, meta, 'scim.group_created', { type: 'scim_group', id }, { displayName: attrs.displayName });
    await this.changeMembers(group, [], attrs.members, false, meta);
    return this.withMembers(group);
  }

  async replaceGroup(principal: Principal, id: string, attrs: ScimGroupAttrs, meta: ScimRequestMeta): Promise<ScimGroupView> {
    const group = await this.groupRecord(principal, id);
    return this.saveGroup(principal, group, attrs, meta);
  }

  async patchGroup(principal: Principal, id: string, operations: Parameters<typeof applyPatch>[3], meta: ScimRequestMeta): Promise<ScimGroupView> {
    const group = await this.withMembers(await this.groupRecord(principal, id));
    const patched = applyPatch(groupJson(group), GROUP_ATTRS, SCHEMA_GROUP, operations);
    return this.saveGroup(principal, group, groupFromJson(patched), meta);
  }

  private async saveGroup(principal: Principal, group: ScimGroupRecord, attrs: ScimGroupAttrs, meta: ScimRequestMeta): Promise<ScimGroupView> {
    const connection = group.connection_id;
    const current = await this.records.members(group.id);
    const added = attrs.members.filter((m) => !current.includes(m));
    await this.checkMembers(principal, added);
    const renamed = attrs.displayName !== group.displayName;
    if (attrs.displayName.toLowerCase() !== group.displayName.toLowerCase()) {
      if (!(await this.records.claimGroupName(connection, attrs.displayName, group.id))) {
        const holder = await this.records.groupIdByName(connection, attrs.displayName);
        if (holder && holder !== group.id && (await this.records.group(holder))) throw new DomainError('conflict', `a Group named ${attrs.displayName} exists (id ${holder})`);
        await this.records.takeOverGroupName(connection, attrs.displayName, group.id);
      }
      await this.records.releaseGroupName(connection, group.displayName);
    }
    const next: ScimGroupRecord = { ...group, displayName: attrs.displayName, externalId: attrs.externalId, updated_at: new Date().toISOString() };
    await this.records.putGroup(next);
    if (renamed || attrs.externalId !== group.externalId) await this.auditEvent(connection, meta, 'scim.group_updated', { type: 'scim_group', id: group.id }, { displayName: attrs.displayName, ...(renamed ? { previous: group.displayName } : {}) });
    const removed = current.filter((m) => !attrs.members.includes(m));
    // A renamed group is another group name for every member: all of them are recomputed.
    await this.changeMembers(next, removed, added, renamed, meta);
    return this.withMembers(next);
  }

  async deleteGroup(principal: Principal, id: string, meta: ScimRequestMeta): Promise<void> {
    const group = await this.groupRecord(principal, id);
    const members = await this.records.deleteGroup(group);
    await this.auditEvent(group.connection_id, meta, 'scim.group_deleted', { type: 'scim_group', id }, { displayName: group.displayName });
    for (const member of members) await this.recompute(member, group.connection_id, meta);
  }

  /**
   * Membership changes as set operations (two PATCHes adding different members at once both land), then
   * each touched member's roles from the names of the groups they are in now.
   */
  private async changeMembers(group: ScimGroupRecord, removed: string[], added: string[], everyone: boolean, meta: ScimRequestMeta): Promise<void> {
    await this.records.changeMembers(group.id, added, removed);
    if (added.length || removed.length) await this.auditEvent(group.connection_id, meta, 'scim.group_members_changed', { type: 'scim_group', id: group.id }, { displayName: group.displayName, added, removed });
    const touched = new Set([...added, ...removed, ...(everyone ? await this.records.members(group.id) : [])]);
    for (const id of touched) await this.recompute(id, group.connection_id, meta);
  }

  /** A member's groups of this connection, by name, applied as the group source named by the connection. */
  private async recompute(userId: string, connection: string, meta: ScimRequestMeta): Promise<MembershipChange[]> {
    const groups = (await this.records.groupsOf(userId)).filter((g) => g.connection_id === connection);
    const changes = await this.deps.groupRoles.apply(userId, connection, [...new Set(groups.map((g) => g.displayName))].sort(), 'scim');
    for (const change of changes) {
      await this.deps.audit.record({ actor: this.actor(connection), action: 'member.role_changed', target: { type: 'user', id: userId }, project_id: change.project_id, ip: meta.ip, user_agent: meta.user_agent, outcome: 'success', detail: { cause: 'scim', source: connection, from: change.from, to: change.to } });
    }
    return changes;
  }
}
