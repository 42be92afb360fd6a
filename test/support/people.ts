import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../../src/store/index.ts';
import { AccessPolicy } from '../../src/access/index.ts';
import { AuditLog } from '../../src/audit/index.ts';
import { GroupRoles, IdentityRepository, InvitationRepository, MembershipRepository, ProjectRepository, ProvisioningRules, UserRepository, type ProvisioningRule, type Role } from '../../src/directory/index.ts';
import { DomainError, type Caller, type Principal } from '../../src/domain/index.ts';
import { AccountService } from '../../src/accounts/index.ts';
import { MembershipService, ProjectService } from '../../src/projects/index.ts';
import { InvitationService } from '../../src/invitations/index.ts';
import { ProvisioningRuleService, RoleMappingService } from '../../src/provisioning/index.ts';
import pino from 'pino';

/**
 * The people services (accounts, projects and memberships, invitations, provisioning, role mappings) on a
 * real embedded store in a temporary directory, with no server: what their unit tests run against.
 * Two organisations, Acme (with a Team below) and Globex; the caller helpers give a person's token with
 * their current roles, as the dashboard and /v1 build it.
 */
export interface People {
  store: Store;
  userRepository: UserRepository;
  projectRepository: ProjectRepository;
  membershipRepository: MembershipRepository;
  invitationRepository: InvitationRepository;
  auditLog: AuditLog;
  access: AccessPolicy;
  accounts: AccountService;
  projects: ProjectService;
  members: MembershipService;
  invitations: InvitationService;
  provisioningRules: ProvisioningRuleService;
  roleMappings: RoleMappingService;
  acme: string;
  team: string;
  globex: string;
  operator: Caller;
  /** A new account with these roles, and a caller for them. */
  person(email: string, roles: Record<string, Role>): Promise<{ id: string; caller: () => Promise<Caller> }>;
  /** Every audit event's action, oldest first. */
  actions(): Promise<string[]>;
  close(): Promise<void>;
}

export async function openPeople(options: { connectors?: string[]; sources?: string[]; rules?: ProvisioningRule[] } = {}): Promise<People> {
  const dir = await mkdtemp(path.join(tmpdir(), 'people-'));
  const store = await openStore({ driver: 'embedded', path: dir });
  const userRepository = new UserRepository(store);
  const projectRepository = new ProjectRepository(store);
  const membershipRepository = new MembershipRepository(store);
  const identities = new IdentityRepository(store);
  const invitationRepository = new InvitationRepository(store);
  const auditLog = new AuditLog(store);
  const access = new AccessPolicy(projectRepository);
  const logger = pino({ level: 'silent' });
  const groupRoles = new GroupRoles({ store, memberships: membershipRepository, projects: projectRepository, users: userRepository, identities, legacyLinksTrusted: async () => false, audit: auditLog, logger, directories: () => [], configured: [] });
  const connectors = options.connectors ?? ['corp-oidc'];
  const accounts = new AccountService({ users: userRepository, memberships: membershipRepository, identities, access, audit: auditLog });
  const projects = new ProjectService({ projects: projectRepository, access, audit: auditLog });
  const members = new MembershipService({ users: userRepository, memberships: membershipRepository, access, audit: auditLog });
  const invitations = new InvitationService({ invitations: invitationRepository, users: userRepository, projects: projectRepository, memberships: membershipRepository, members, access, audit: auditLog, passwords: { hash: async (p) => `hashed:${p}` }, issuer: 'https://auth.example' });
  const provisioningRules = new ProvisioningRuleService({ rules: new ProvisioningRules(store, options.rules ?? []), projects: projectRepository, access, audit: auditLog, connectorIds: () => connectors });
  const roleMappings = new RoleMappingService({ groupRoles, access, audit: auditLog, sources: () => options.sources ?? ['ldap', ...connectors], isConnector: (id) => connectors.includes(id) });
  const acme = (await projectRepository.create({ name: 'Acme' })).id;
  const team = (await projectRepository.create({ name: 'Team', parent_id: acme })).id;
  const globex = (await projectRepository.create({ name: 'Globex' })).id;
  const operatorPrincipal: Principal = { kind: 'operator', actor: { type: 'system', id: 'cli:test' } };
  return {
    store,
    userRepository,
    projectRepository,
    membershipRepository,
    invitationRepository,
    auditLog,
    access,
    accounts,
    projects,
    members,
    invitations,
    provisioningRules,
    roleMappings,
    acme,
    team,
    globex,
    operator: { principal: operatorPrincipal, ip: null, user_agent: null },
    async person(email, roles) {
      const { user } = await userRepository.create({ email, email_verified: true, source: 'local' });
      for (const [project, role] of Object.entries(roles)) await membershipRepository.setManual(user.id, project, role);
      return {
        id: user.id,
        // Read at each call, as a token is issued with the roles held then.
        caller: async () => ({
          principal: { kind: 'token', actor: { type: 'user', id: user.id }, scopes: ['read:logs', 'write:alerts', 'admin:projects'], project_roles: await membershipRepository.rolesOf(user.id) },
          ip: '203.0.113.7',
          user_agent: 'unit-test',
        }),
      };
    },
    async actions() {
      return (await auditLog.list({ limit: 1000 })).map((e) => e.action);
    },
    async close() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The DomainError a call refuses with, as `code` and `field`; undefined when it succeeds. */
export async function refusal(call: Promise<unknown>): Promise<{ code: string; field: string | undefined; message: string } | undefined> {
  try {
    await call;
    return undefined;
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    return { code: err.code, field: err.field, message: err.message };
  }
}
