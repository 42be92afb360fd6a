import type { AccessPolicy } from '../access/index.ts';
import type { AuditLog } from '../audit/index.ts';
import { ConnectorError, DomainError, type Caller } from '../domain/index.ts';
import { changedFields, mergePatch, type ConnectionSet, type ConnectionView } from './connections.ts';
import type { ConnectionCheck } from './types.ts';
import { connectorType } from './registry.ts';

/** A connection as created: a SCIM connection's bearer token comes with it, once. */
type CreatedConnection = ConnectionView & { token?: string };

interface ConnectionTestResult {
  ok: boolean;
  checks: ConnectionCheck[];
}

/**
 * Attempts per person tried, reserve-then-check (src/http/rate-limit.ts FailureLimiter has this shape):
 * a try is counted before the bind, given back when the directory gave no verdict, reset on success.
 */
interface SignInTries {
  reserve(subject: string): Promise<{ ok: true } | { ok: false; retryAfter: number }>;
  release(subject: string): Promise<void>;
  reset(subject: string): Promise<void>;
}

/**
 * What "Try a sign-in" found out, without signing anyone in: `missing` (no email or password given),
 * `unavailable` (the connection is not running, or the directory gave no verdict: `reason` in the
 * server's words), `locked` (too many tries for this person), `rejected` (wrong password or no such
 * person), `accepted` with the directory entry, its groups and the group source they map from.
 */
export type SignInTry =
  | { outcome: 'missing' }
  | { outcome: 'unavailable'; reason: string }
  | { outcome: 'locked'; retryAfter: number }
  | { outcome: 'rejected' }
  | { outcome: 'accepted'; person: { dn: string; id: string; email: string; name: string | null }; groups: string[]; source: string };

interface ConnectionServiceDeps {
  connections: ConnectionSet;
  access: Pick<AccessPolicy, 'requireOrgAdmin' | 'requireConnectionChange'>;
  audit: Pick<AuditLog, 'recordBy'>;
  /**
   * A SCIM connection was deleted: its people lose the roles its groups gave (ScimService.connectionDeleted).
   * A callback, so this module does not depend on the SCIM door.
   */
  scimConnectionDeleted(connectionId: string, meta: { ip: string | null; user_agent: string | null }): Promise<void>;
  /**
   * The limit on "Try a sign-in" (a password check against the directory): as strict as the sign-in
   * page's, per person tried, so it can neither guess passwords nor trip the directory's lockout. Without
   * it no try is made.
   */
  signInTries?: SignInTries | undefined;
}

const WHAT = 'managing connections';

/**
 * Connections (configured instances of a connector type, and SCIM connections) as every door manages
 * them: /v1/connections, the dashboard's SSO pages. Each method takes the caller and plain input, asks the
 * access policy (an organisation admin reads and tests; requireConnectionChange decides what needs an
 * owner), does the work through the ConnectionSet (which validates with the connector types' schemas),
 * writes the audit event and throws only DomainError.
 */
export class ConnectionService {
  private readonly deps: ConnectionServiceDeps;

  constructor(deps: ConnectionServiceDeps) {
    this.deps = deps;
  }

  private async found(id: string): Promise<ConnectionView> {
    const connection = await this.deps.connections.get(id);
    if (!connection) throw new DomainError('not_found', `connection ${id} does not exist`);
    return connection;
  }

  /** Every connection: the configuration file's (read-only) first, then the stored ones. */
  async list(caller: Caller): Promise<ConnectionView[]> {
    await this.deps.access.requireOrgAdmin(caller.principal, WHAT);
    return this.deps.connections.list();
  }

  async get(caller: Caller, id: string): Promise<ConnectionView> {
    await this.deps.access.requireOrgAdmin(caller.principal, WHAT);
    return this.found(id);
  }

  /**
   * The stored settings of a connection made at run time (secrets removed), as a merge patch applies to
   * them; not_found for an unknown id, conflict for one from the configuration file.
   */
  async settings(caller: Caller, id: string): Promise<Record<string, unknown>> {
    await this.deps.access.requireOrgAdmin(caller.principal, WHAT);
    return this.storedSettings(id);
  }

  private async storedSettings(id: string): Promise<Record<string, unknown>> {
    const current = await this.deps.connections.storedConfig(id);
    if (current) return current;
    if (await this.deps.connections.get(id)) throw new DomainError('conflict', `connector ${id} comes from the configuration file; change it there`);
    throw new DomainError('not_found', `connection ${id} does not exist`);
  }

  /** A new connection, validated as the configuration file's are. Owner business. */
  async create(caller: Caller, input: Record<string, unknown>): Promise<CreatedConnection> {
    const root = await this.deps.access.requireConnectionChange(caller.principal, { action: 'create' });
    const saved = await this.deps.connections.save(input, 'create');
    await this.deps.audit.recordBy(caller, { action: 'connection.created', target: { type: 'connection', id: saved.id }, project_id: root, outcome: 'success', detail: { type: saved.type } });
    return saved;
  }

  /**
   * An RFC 7396 merge patch of a stored connection's settings. The id and the type never change; a secret
   * left out is kept (while where it is sent stays the same). The access policy decides on the fields the
   * patch really changes: an admin may rename, enable or disable and replace a secret, the rest is an owner's.
   */
  async update(caller: Caller, id: string, changes: Record<string, unknown>): Promise<ConnectionView> {
    const root = await this.deps.access.requireOrgAdmin(caller.principal, WHAT);
    const current = await this.storedSettings(id);
    if ('id' in changes && changes.id !== id) throw new DomainError('invalid', 'the id of a connection cannot change', 'id');
    if ('type' in changes && changes.type !== current.type) throw new DomainError('invalid', 'the type of a connection cannot change; create a new one', 'type');
    const next = { ...mergePatch(current, changes), id };
    await this.deps.access.requireConnectionChange(caller.principal, { action: 'update', fields: changedFields(current, next) });
    const saved = await this.deps.connections.save(next, 'update');
    // The fields the caller sent (id and type can only repeat what they are).
    const fields = Object.keys(changes).filter((k) => k !== 'id' && k !== 'type');
    await this.deps.audit.recordBy(caller, { action: 'connection.updated', target: { type: 'connection', id: saved.id }, project_id: root, outcome: 'success', detail: { fields } });
    return saved;
  }

  /** Gone from every node within the reload interval; accounts stay. A SCIM connection's people lose its roles. */
  async delete(caller: Caller, id: string): Promise<void> {
    const root = await this.deps.access.requireConnectionChange(caller.principal, { action: 'delete' });
    const wasScim = (await this.deps.connections.get(id))?.type === 'scim';
    if (!(await this.deps.connections.delete(id))) throw new DomainError('not_found', `connection ${id} does not exist`);
    if (wasScim) await this.deps.scimConnectionDeleted(id, { ip: caller.ip, user_agent: caller.user_agent });
    await this.deps.audit.recordBy(caller, { action: 'connection.deleted', target: { type: 'connection', id }, project_id: root, outcome: 'success' });
  }

  /**
   * A new bearer token for a SCIM connection, shown once; the old one stops working at once. Owner
   * business, like creating the connection: the token provisions and disables accounts.
   */
  async rotateScimToken(caller: Caller, id: string): Promise<{ id: string; token: string }> {
    const root = await this.deps.access.requireConnectionChange(caller.principal, { action: 'update', fields: ['token'] });
    const token = await this.deps.connections.rotateScimToken(id);
    await this.deps.audit.recordBy(caller, { action: 'connection.token_rotated', target: { type: 'connection', id }, project_id: root, outcome: 'success' });
    return { id, token };
  }

  /** What the connection's type checks (discovery, metadata, a directory bind), in plain words. Changes nothing. */
  async test(caller: Caller, id: string): Promise<ConnectionTestResult> {
    const root = await this.deps.access.requireOrgAdmin(caller.principal, WHAT);
    const connection = await this.found(id);
    const checks = await this.deps.connections.test(connection);
    const ok = checks.every((c) => c.ok);
    await this.deps.audit.recordBy(caller, { action: 'connection.tested', target: { type: 'connection', id: connection.id }, project_id: root, outcome: ok ? 'success' : 'failure', detail: { checks: checks.filter((c) => !c.ok).map((c) => c.check) } });
    return { ok, checks };
  }

  /**
   * A directory connection's "Try a sign-in" (Keycloak's "Test authentication"): the directory's answer
   * for one email and password, and the groups found. Signs nobody in and creates nothing; audited as
   * connection.tested (`{kind: 'sign_in', email}`, never the password), whatever the outcome.
   */
  async trySignIn(caller: Caller, id: string, input: { email: string; password: string }): Promise<SignInTry> {
    const root = await this.deps.access.requireOrgAdmin(caller.principal, WHAT);
    const connection = await this.found(id);
    const { connections, signInTries } = this.deps;
    const directory = connections.directoryOf(connection.id);
    if (!directory && !connectorType(connection.type)?.directory) throw new DomainError('invalid', `connection ${id} has no directory to try a sign-in against`);
    const email = input.email.trim();
    const person = email.toLowerCase();
    let result: SignInTry;
    if (!email || !input.password) {
      result = { outcome: 'missing' };
    } else if (!directory || !signInTries) {
      result = { outcome: 'unavailable', reason: connection.enabled === false ? 'the connection is disabled' : !directory ? `the connector could not be started: ${connections.whyNotRunning(connection.id)}` : 'tries are not limited here' };
    } else {
      // Reserve-then-check, as the sign-in page: the try is counted before the bind, so concurrent tries
      // cannot all slip past the limit.
      const reserved = await signInTries.reserve(person);
      if (!reserved.ok) {
        result = { outcome: 'locked', retryAfter: reserved.retryAfter };
      } else {
        try {
          const found = await directory.authenticate(email, input.password);
          await signInTries.reset(person);
          result = { outcome: 'accepted', person: { dn: found.dn, id: found.id, email: found.email, name: found.name }, groups: found.groups, source: connections.sourceOf(connection.id) };
        } catch (err) {
          if (err instanceof ConnectorError && err.code === 'invalid_credentials') {
            result = { outcome: 'rejected' };
          } else {
            // No verdict on the password: the try is given back.
            await signInTries.release(person);
            result = { outcome: 'unavailable', reason: err instanceof Error ? err.message : String(err) };
          }
        }
      }
    }
    await this.deps.audit.recordBy(caller, { action: 'connection.tested', target: { type: 'connection', id: connection.id }, project_id: root, outcome: result.outcome === 'accepted' ? 'success' : 'failure', detail: { kind: 'sign_in', email } });
    return result;
  }
}
