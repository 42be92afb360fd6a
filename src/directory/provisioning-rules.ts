import { randomBytes } from 'node:crypto';
import type { Store } from '../store/index.ts';
import { DomainError } from '../domain/index.ts';
import type { ProvisioningRule } from './provisioning.ts';
import type { Role } from './roles.ts';

/**
 * Provisioning rules (who gets an account on first federated sign-in): the configuration file's
 * `provisioning.rules`, read-only here, followed by rules managed at run time (/v1/provisioning-rules and
 * the dashboard's SSO page). The first rule whose domain and connections match decides, so a stored rule
 * that could never apply (the same domain and connections as an earlier one) is refused as a conflict.
 *
 * Layout: provrule:{id} → the rule, provrule:all:{index} → ids, provrule:scope:{domain|connectors} → the id
 * holding that scope (taken create-if-absent, so two concurrent creates of one scope cannot both land).
 */
export interface ProvisioningRuleView {
  [key: string]: unknown;
  id: string;
  email_domain: string;
  /** Connector ids the rule is limited to; empty = any connection. */
  connectors: string[];
  /** A project id (stored rules) or, for configuration rules, the id or name written there. */
  project: string | null;
  role: Role | null;
  origin: 'config' | 'api';
  created_at: string | null;
  created_by: string | null;
}

interface ProvisioningRuleInput {
  email_domain: string;
  connectors?: string[] | undefined;
  project_id?: string | undefined;
  role?: Role | undefined;
}

/** A rule that could never be reached: the one it conflicts with is named, so a person can find it. */
function conflictWith(existing: ProvisioningRuleView): DomainError {
  return new DomainError('conflict', `a rule for ${existing.email_domain} (${existing.connectors.length ? existing.connectors.join(', ') : 'any connection'}) exists already: ${existing.id}`, 'email_domain');
}

const ruleKey = (id: string) => `provrule:{${id}}`;
const ALL = 'provrule:all:{index}';
const scopeKey = (r: { email_domain: string; connectors: string[] }) => `provrule:scope:{${r.email_domain}|${[...new Set(r.connectors)].sort().join(',')}}`;

/** Same domain and the same set of connections: the later rule could never be reached. */
function sameScope(a: { email_domain: string; connectors: string[] }, b: { email_domain: string; connectors: string[] }): boolean {
  if (a.email_domain !== b.email_domain) return false;
  const x = [...new Set(a.connectors)].sort();
  const y = [...new Set(b.connectors)].sort();
  return x.length === y.length && x.every((c, i) => c === y[i]);
}

export class ProvisioningRules {
  private readonly store: Store;
  private readonly configured: ProvisioningRuleView[];

  constructor(store: Store, configured: ProvisioningRule[]) {
    this.store = store;
    this.configured = configured.map((r, i) => ({
      id: `cfg_${i}`,
      email_domain: r.email_domain.toLowerCase(),
      connectors: r.connectors ?? [],
      project: r.project ?? null,
      role: r.role ?? null,
      origin: 'config',
      created_at: null,
      created_by: null,
    }));
  }

  /** Configuration rules first (file order), then stored ones by creation time: the order they are tried in. */
  async list(): Promise<ProvisioningRuleView[]> {
    const ids = await this.store.smembers(ALL);
    const stored = (await Promise.all(ids.map((id) => this.store.get<ProvisioningRuleView>(ruleKey(id))))).filter((r): r is ProvisioningRuleView => !!r);
    stored.sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)) || a.id.localeCompare(b.id));
    return [...this.configured, ...stored];
  }

  async get(id: string): Promise<ProvisioningRuleView | undefined> {
    return (await this.list()).find((r) => r.id === id);
  }

  /** The rules in the shape the sign-in decision reads (src/directory/provisioning.ts). */
  async active(): Promise<ProvisioningRule[]> {
    return (await this.list()).map((r) => ({
      email_domain: r.email_domain,
      connectors: r.connectors,
      project: r.project ?? undefined,
      role: r.role ?? undefined,
    }));
  }

  /** Stores a rule; the caller has checked the project, the connections and the caller's rights. */
  async create(input: ProvisioningRuleInput, createdBy: string | null): Promise<ProvisioningRuleView> {
    const rule: ProvisioningRuleView = {
      id: `pr_${randomBytes(9).toString('base64url')}`,
      email_domain: input.email_domain.toLowerCase(),
      connectors: [...new Set(input.connectors ?? [])].sort(),
      project: input.project_id ?? null,
      role: input.role ?? null,
      origin: 'api',
      created_at: new Date().toISOString(),
      created_by: createdBy,
    };
    const clash = this.configured.find((r) => sameScope(r, rule));
    if (clash) throw conflictWith(clash);
    if (!(await this.store.putIfAbsent(scopeKey(rule), { id: rule.id }))) {
      const lock = await this.store.get<{ id: string }>(scopeKey(rule));
      const holder = lock ? await this.store.get<ProvisioningRuleView>(ruleKey(lock.id)) : undefined;
      // A lock whose rule was never written (a create that failed half-way) is taken over, not obeyed.
      if (holder) throw conflictWith(holder);
      await this.store.put(scopeKey(rule), { id: rule.id });
    }
    try {
      // Index first (list() skips an id without a rule), then the rule: never a rule no list shows.
      await this.store.sadd(ALL, [rule.id]);
      await this.store.put(ruleKey(rule.id), { ...rule });
    } catch (error) {
      await this.store.delete(scopeKey(rule)).catch(() => undefined);
      throw error;
    }
    return rule;
  }

  async delete(id: string): Promise<boolean> {
    const rule = await this.store.get<ProvisioningRuleView>(ruleKey(id));
    if (!rule) return false;
    // The rule first: once it is gone it applies nowhere. A scope lock left behind by a failure after it
    // is taken over by the next create (see create), an index entry is skipped by list().
    await this.store.delete(ruleKey(id));
    await this.store.delete(scopeKey(rule));
    await this.store.srem(ALL, [id]);
    return true;
  }
}
