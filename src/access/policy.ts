import { ROLE_SCOPES, isRole, type Role } from '../verifier/roles.ts';
import { scopesOnPath } from '../verifier/scopes.ts';
import { DomainError, type Principal } from '../domain/index.ts';

/**
 * The one access policy: who may do what on which project. Every door — /v1, the dashboard, the CLI and
 * the token exchange — asks here with a principal; no route re-implements a rule (two copies drift, and
 * drift between doors is how privilege escalations happen).
 *
 * The model: projects form a tree with organisations at the roots; a role on a project holds on its
 * whole subtree (owner > admin > member > viewer). A credential's rights on a project are its scopes
 * there: a person's token holds the scopes its roles give, intersected with the token's scopes; an API
 * key holds its scopes on its project's subtree; the operator (the CLI, who already holds the server's
 * configuration and store) holds everything. Only people are owners: an API key or a client never is,
 * so nothing an owner alone may do can be done with a key.
 */
export type { Actor, Principal } from '../domain/index.ts';

/** A refusal: 403 (the credential lacks the right) or 404 (it may not even know the thing exists). */
export class AccessDenied extends DomainError {
  override readonly name = 'AccessDenied';
  declare readonly code: 'forbidden' | 'not_found';
  constructor(code: 'forbidden' | 'not_found', message: string, field?: string) {
    super(code, message, field);
  }
}

/** The projects the policy reads: their ancestry and the organisations (roots). */
interface ProjectTree {
  pathOf(id: string): Promise<string[] | undefined>;
  roots(): Promise<Array<{ id: string }>>;
  subtree(id: string): Promise<Array<{ id: string }>>;
}

/** What the policy needs to know of an account another principal wants to see or change. */
interface UserFacts {
  id: string;
  /** Every role the account holds, by any cause (manual, directory, IdP groups, provisioning). */
  grants: Array<{ project_id: string; role: string }>;
}

/** What the policy needs to know of a SCIM resource (a provisioned account or a group). */
interface ScimResourceFacts {
  /** The SCIM connection that provisioned it. */
  connection_id: string;
  /** Deleted through SCIM: the account stays (disabled, for the audit), the resource is gone. */
  deleted?: boolean | undefined;
}

/** What the policy needs to know of an existing account a SCIM token wants to provision again. */
interface ScimClaimFacts {
  /** The SCIM connection that provisioned it (even if it later deleted it), or null. */
  provisioned_by: string | null;
  source: string;
  has_password: boolean;
  /** The connectors of the identities linked to it. */
  identity_connectors: string[];
}

/** Which audit events a principal may read. */
interface AuditView {
  project_ids: Set<string>;
  /** Events tied to no project (sign-ins, failed calls): all of them, or only those about these accounts. */
  include_unscoped: boolean;
  unscoped_subjects?: Set<string> | undefined;
}

const ALL_SCOPES = ['read:logs', 'write:alerts', 'admin:projects'];
const ADMIN = 'admin:projects';

/**
 * Connection fields an organisation admin may change. Everything else of a connection decides who an
 * account is (issuer, authority, endpoints, client id, metadata, trust_email, email_domains, LDAP URL and searches,
 * attribute and claim names, groups claim, MFA demands) and is an owner's: an admin who could repoint a
 * connection, or make it trust an email, could sign in as the owner.
 */
const CONNECTION_ADMIN_FIELDS: ReadonlySet<string> = new Set(['name', 'enabled', 'client_secret']);

export class AccessPolicy {
  private readonly projects: ProjectTree;

  constructor(projects: ProjectTree) {
    this.projects = projects;
  }

  /** The scopes a principal holds on a project (empty when it has no right there or the project is gone). */
  async scopesOn(principal: Principal, projectId: string): Promise<string[]> {
    const path = await this.projects.pathOf(projectId);
    if (!path) return [];
    if (principal.kind === 'operator') return [...ALL_SCOPES];
    if (principal.kind === 'scim') return [];
    return scopesOnPath(principal, path);
  }

  /** Whether the principal is an owner of the project or of a project above it. Keys and clients never are. */
  async isOwner(principal: Principal, projectId: string): Promise<boolean> {
    if (principal.kind === 'operator') return true;
    if (principal.kind !== 'token' || principal.actor.type !== 'user') return false;
    const path = (await this.projects.pathOf(projectId)) ?? [];
    return Object.entries(principal.project_roles).some(([project, role]) => role === 'owner' && path.includes(project));
  }

  /**
   * Whether a person belongs to the organisation of `projectId`: they hold a role (any cause) on a project of
   * the same tree. An owner marks a registered application first-party (no consent screen) for the people
   * of their organisation, never for everyone who signs in on this server: anyone else is asked.
   */
  async inOrganisationOf(projectRoles: Record<string, string>, projectId: string): Promise<boolean> {
    const root = (await this.projects.pathOf(projectId))?.[0];
    if (!root) return false;
    for (const project of Object.keys(projectRoles)) {
      if ((await this.projects.pathOf(project))?.[0] === root) return true;
    }
    return false;
  }

  /** Every project the principal holds `scope` on (any right when no scope is named). */
  async visibleProjects(principal: Principal, scope?: string): Promise<Set<string>> {
    const ids = new Set<string>();
    const starts: string[] = [];
    if (principal.kind === 'operator') {
      starts.push(...(await this.projects.roots()).map((r) => r.id));
    } else if (principal.kind === 'api_key') {
      if (!scope || principal.scopes.includes(scope)) starts.push(principal.project_id);
    } else if (principal.kind === 'token') {
      for (const [project, role] of Object.entries(principal.project_roles)) {
        if (!isRole(role)) continue;
        const held = ROLE_SCOPES[role].filter((s) => principal.scopes.includes(s));
        if (scope ? held.includes(scope) : held.length) starts.push(project);
      }
    }
    for (const start of starts) {
      if (ids.has(start)) continue;
      for (const project of await this.projects.subtree(start)) ids.add(project.id);
    }
    return ids;
  }

  /** The organisations (root projects) the principal administers. */
  async administeredOrganisations(principal: Principal): Promise<string[]> {
    const out: string[] = [];
    for (const root of await this.projects.roots()) if ((await this.scopesOn(principal, root.id)).includes(ADMIN)) out.push(root.id);
    return out;
  }

  /**
   * Whether the principal administers every organisation on this server: it may see what belongs to no
   * organisation (accounts without a role, sign-ins of unknown people). On a server with one organisation,
   * that is every admin of it.
   */
  async administersEverything(principal: Principal): Promise<boolean> {
    const roots = await this.projects.roots();
    if (roots.length === 0) return principal.kind === 'operator';
    for (const root of roots) if (!(await this.scopesOn(principal, root.id)).includes(ADMIN)) return false;
    return true;
  }

  /**
   * Throws unless the principal holds `scope` on the project: 404 when the project does not exist, 403
   * otherwise. Returns the scopes it holds there.
   */
  async require(principal: Principal, projectId: string, scope: string, field = 'project_id', about?: string): Promise<string[]> {
    // A thing found by its own id (a key, a webhook, a mapping) is named instead of its project: the caller
    // did not name that project and may not know it (it may be another organisation's).
    const where = about ? `the project of ${about}` : `project ${projectId}`;
    if (!(await this.projects.pathOf(projectId))) throw new AccessDenied('not_found', `${where} does not exist`, field);
    const scopes = await this.scopesOn(principal, projectId);
    if (!scopes.includes(scope)) throw new AccessDenied('forbidden', `this credential does not hold ${scope} on ${where}`);
    return scopes;
  }

  /**
   * Organisation-wide settings (provisioning rules; reading connections) need admin:projects on an
   * organisation. Returns that organisation's id.
   */
  async requireOrgAdmin(principal: Principal, what: string): Promise<string> {
    const [first] = await this.administeredOrganisations(principal);
    if (first) return first;
    throw new AccessDenied('forbidden', `${what} needs admin:projects on the organisation (root project)`);
  }

  /** Creating a project below `parentId`, or a new organisation (no parent: an admin of every organisation). */
  async requireProjectCreation(principal: Principal, parentId: string | null | undefined): Promise<void> {
    if (parentId) {
      await this.require(principal, parentId, ADMIN, 'parent_id');
      return;
    }
    if ((await this.projects.roots()).length === 0 ? principal.kind === 'operator' : await this.administersEverything(principal)) return;
    throw new AccessDenied('forbidden', 'creating an organization (no parent_id) needs admin:projects on every existing organization', 'parent_id');
  }

  /**
   * Creating or rotating an API key (or anything that carries scopes): admin:projects on the project and
   * every scope of the key. Rotation is creation of a new secret, so it checks exactly as much.
   */
  async requireKeyScopes(principal: Principal, projectId: string, scopes: readonly string[], field = 'scopes', about?: string): Promise<void> {
    const held = await this.require(principal, projectId, ADMIN, 'project_id', about);
    // A scope that does not exist is an input error, reported as such by the key service.
    const missing = scopes.filter((s) => ALL_SCOPES.includes(s) && !held.includes(s));
    if (missing.length) throw new AccessDenied('forbidden', `a key cannot hold scopes its creator lacks: ${missing.join(', ')}`, field);
  }

  /**
   * Registering or changing an OAuth client (src/clients): admin:projects on its project, and its log API
   * scopes within the caller's there — the key rule, since the client's tokens carry them. OpenID scopes
   * (openid, email, profile, offline_access) are about the person signing in and need nothing more.
   */
  async requireClientScopes(principal: Principal, projectId: string, scopes: readonly string[], about?: string): Promise<void> {
    const held = await this.require(principal, projectId, ADMIN, 'project_id', about);
    const missing = scopes.filter((s) => ALL_SCOPES.includes(s) && !held.includes(s));
    if (missing.length) throw new AccessDenied('forbidden', `a client cannot hold scopes its creator lacks: ${missing.join(', ')}`, 'scopes');
  }

  /** Reading, revoking or reading usage of a key: admin:projects on its project; a key may always revoke itself. */
  async requireKeyAdmin(principal: Principal, key: { id: string; project_id: string }, action: 'read' | 'revoke' = 'read'): Promise<void> {
    if (action === 'revoke' && principal.kind === 'api_key' && principal.actor.id === key.id) return;
    await this.require(principal, key.project_id, ADMIN, 'id', `API key ${key.id}`);
  }

  /**
   * Subscribing to key events (GET /v1/keys/events, the verifier library's cache invalidation): admin:projects
   * on an organisation. Returns the organisations administered. Each event is then sent only where
   * receivesKeyEvent holds.
   */
  async requireKeyEventSubscription(principal: Principal): Promise<string[]> {
    const organisations = await this.administeredOrganisations(principal);
    if (organisations.length === 0) throw new AccessDenied('forbidden', 'the key event stream needs admin:projects on the organization (root project)');
    return organisations;
  }

  /** Whether a subscriber is told about a key event of this project: it administers the project (as reading the key needs). */
  async receivesKeyEvent(principal: Principal, projectId: string): Promise<boolean> {
    return (await this.scopesOn(principal, projectId)).includes(ADMIN);
  }

  /** The scopes an exchanged access token may carry: what the key holds, narrowed to what was asked for. */
  exchangeScopes(keyScopes: readonly string[], requested: readonly string[] | undefined): { scopes: string[]; refused: string[] } {
    if (!requested) return { scopes: [...keyScopes], refused: [] };
    return { scopes: requested.filter((s) => keyScopes.includes(s)), refused: requested.filter((s) => !keyScopes.includes(s)) };
  }

  /**
   * Giving, changing or taking a role on a project (a manual grant, an invitation, a group mapping, a
   * provisioning rule): admin:projects there, and an owner's right whenever owner is given or taken.
   */
  async requireRoleChange(principal: Principal, projectId: string, change: { from?: string | null | undefined; to?: string | null | undefined }, what: string, fields: { project?: string; role?: string; about?: string } = {}): Promise<void> {
    await this.require(principal, projectId, ADMIN, fields.project ?? 'project_id', fields.about);
    if ((change.from === 'owner' || change.to === 'owner') && !(await this.isOwner(principal, projectId))) {
      throw new AccessDenied('forbidden', `only an owner of the project may ${what}`, fields.role ?? 'role');
    }
  }

  /**
   * Whether the principal may see an account: it administers a project the account belongs to (by any
   * cause). An account with no role belongs to no organisation: only an admin of every organisation sees it.
   */
  async canSeeUser(principal: Principal, user: UserFacts, visible?: Set<string>): Promise<boolean> {
    if (user.grants.length === 0) return this.administersEverything(principal);
    const administered = visible ?? (await this.visibleProjects(principal, ADMIN));
    return user.grants.some((g) => administered.has(g.project_id));
  }

  /** Throws 404 unless the principal may see the account (never saying where else it belongs). */
  async requireSeeUser(principal: Principal, user: UserFacts | undefined, id: string, visible?: Set<string>): Promise<UserFacts> {
    if (!user || !(await this.canSeeUser(principal, user, visible))) throw new AccessDenied('not_found', `user ${id} does not exist or is not visible to this credential`);
    return user;
  }

  /**
   * Changing an account (disable, enable, rename): it affects every project the account belongs to, so the
   * principal must administer all of them, and be an owner wherever the account is an owner — nobody
   * disables or edits an owner but an owner. The refusal names no project: it may be another organisation's.
   */
  async requireUserChange(principal: Principal, user: UserFacts): Promise<void> {
    await this.requireSeeUser(principal, user, user.id);
    if (user.grants.length === 0 && !(await this.administersEverything(principal))) throw new AccessDenied('forbidden', 'this account belongs to no project; only an admin of every organization may change it');
    for (const grant of user.grants) {
      if (!(await this.scopesOn(principal, grant.project_id)).includes(ADMIN)) {
        throw new AccessDenied('forbidden', 'this account also belongs to a project this credential does not administer');
      }
      if (grant.role === 'owner' && !(await this.isOwner(principal, grant.project_id))) {
        throw new AccessDenied('forbidden', 'this account is an owner: only an owner may change it');
      }
    }
  }

  /**
   * Changing a person's manual role on a project: as requireRoleChange, and a person who is an owner there
   * by any cause (directory groups included) is an owner's to change.
   */
  async requireMemberChange(principal: Principal, projectId: string, user: UserFacts, to: Role | null): Promise<void> {
    const path = (await this.projects.pathOf(projectId)) ?? [];
    const ownerThere = user.grants.some((g) => g.role === 'owner' && path.includes(g.project_id));
    await this.requireRoleChange(principal, projectId, { from: ownerThere ? 'owner' : null, to }, to === null ? 'remove an owner' : 'grant or change the owner role', { project: 'id' });
  }

  /**
   * Connections are the organisation's identity: creating or deleting one, or changing any field that
   * decides who an account is, needs an owner of every organisation the server serves (connections are
   * server-wide: a connection made by the owner of one organisation would sign in the people of all).
   * Admins may read and test them and change only CONNECTION_ADMIN_FIELDS.
   */
  async requireConnectionChange(principal: Principal, change: { action: 'create' | 'delete' } | { action: 'update'; fields: string[] }): Promise<string> {
    const root = await this.requireOrgAdmin(principal, 'managing connections');
    const ownerNeeded = change.action !== 'update' || change.fields.some((f) => !CONNECTION_ADMIN_FIELDS.has(f));
    if (!ownerNeeded) return root;
    const roots = await this.projects.roots();
    for (const r of roots) {
      if (!(await this.isOwner(principal, r.id))) {
        const what = change.action === 'update' ? `changing ${change.fields.filter((f) => !CONNECTION_ADMIN_FIELDS.has(f)).join(', ')} of a connection` : `${change.action === 'create' ? 'creating' : 'deleting'} a connection`;
        throw new AccessDenied('forbidden', `${what} needs the owner role on the organization${roots.length > 1 ? ' (on every organization: connections serve them all)' : ''}; admins may read, test, rename, enable or disable connections and replace a client secret`);
      }
    }
    return root;
  }

  /**
   * The SCIM connection a principal acts for. /scim/v2 is the door of SCIM tokens only: a person's token or
   * an API key is refused there, and a SCIM token is refused everywhere else (it holds no scope).
   */
  scimConnection(principal: Principal): { connection_id: string; connector: string } {
    if (principal.kind !== 'scim') throw new AccessDenied('forbidden', 'only a SCIM connection token may provision accounts and groups');
    return { connection_id: principal.connection_id, connector: principal.connector };
  }

  /** Whether a SCIM resource (an account or group it provisioned) belongs to this SCIM token's connection. */
  scimOwns(principal: Principal, resource: ScimResourceFacts | undefined): boolean {
    return principal.kind === 'scim' && !!resource && !resource.deleted && resource.connection_id === principal.connection_id;
  }

  /**
   * Throws 404 unless the resource is one this SCIM token's connection provisioned (and has not deleted):
   * another connection's users and groups, and accounts SCIM never provisioned, do not exist for it.
   */
  requireScimResource(principal: Principal, resource: ScimResourceFacts | undefined, what: 'User' | 'Group', id: string): void {
    this.scimConnection(principal);
    if (!this.scimOwns(principal, resource)) throw new AccessDenied('not_found', `${what} ${id} not found`);
  }

  /**
   * Whether a SCIM token may take over an existing account whose email its new user carries (instead of
   * refusing the userName as taken). Its own connection's accounts (a deleted one coming back) yes; another
   * connection's never. An account SCIM never provisioned only when it came from the connector this SCIM
   * connection is tied to and nothing else vouches for it (no password, no identity of another connector):
   * that upstream can already sign the person in, so managing the account gives the SCIM client nothing
   * more. A password account, an owner made by the CLI, a person of another connector: the userName is taken.
   */
  scimMayClaim(principal: Principal, account: ScimClaimFacts): boolean {
    const { connection_id, connector } = this.scimConnection(principal);
    if (account.provisioned_by) return account.provisioned_by === connection_id;
    return account.source === connector && !account.has_password && account.identity_connectors.every((c) => c === connector);
  }

  /**
   * Which audit events the principal may read: those of the projects it administers (or the subtree of the
   * one asked for), and of events tied to no project only those about accounts it may see — all of them
   * only for an admin of every organisation.
   */
  async auditView(principal: Principal, projectId: string | undefined, visibleUsers: () => Promise<Set<string>>): Promise<AuditView> {
    if (projectId) {
      await this.require(principal, projectId, ADMIN);
      return { project_ids: new Set((await this.projects.subtree(projectId)).map((p) => p.id)), include_unscoped: false };
    }
    const project_ids = await this.visibleProjects(principal, ADMIN);
    if (project_ids.size === 0) throw new AccessDenied('forbidden', 'reading the audit log needs admin:projects on some project');
    if (await this.administersEverything(principal)) return { project_ids, include_unscoped: true };
    return { project_ids, include_unscoped: false, unscoped_subjects: await visibleUsers() };
  }
}
