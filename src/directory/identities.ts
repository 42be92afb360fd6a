import type { Store } from '../store/index.ts';

/**
 * Links between upstream identities (connector id + upstream subject) and our users. The same upstream
 * identity always maps to the same user, hence the same `sub`.
 * Layout: identity:{<connector>:<subject>} → IdentityLink; identity:user:{userId} → set of link keys.
 */
export interface IdentityLink {
  [key: string]: unknown;
  user_id: string;
  connector_id: string;
  subject: string;
  email: string | null;
  groups: string[];
  linked_at: string;
  last_login_at: string;
}

const linkKey = (connectorId: string, subject: string) => `identity:{${connectorId}:${subject}}`;
const userLinks = (userId: string) => `identity:user:{${userId}}`;

export class IdentityRepository {
  private readonly store: Store;
  constructor(store: Store) {
    this.store = store;
  }

  async find(connectorId: string, subject: string): Promise<IdentityLink | undefined> {
    return this.store.get<IdentityLink>(linkKey(connectorId, subject));
  }

  /** Links (or refreshes the link of) an upstream identity to a user. */
  async link(userId: string, identity: { connector_id: string; subject: string; email: string | null; groups: string[] }): Promise<IdentityLink> {
    const key = linkKey(identity.connector_id, identity.subject);
    const existing = await this.store.get<IdentityLink>(key);
    const now = new Date().toISOString();
    const link: IdentityLink = {
      user_id: existing?.user_id ?? userId,
      connector_id: identity.connector_id,
      subject: identity.subject,
      email: identity.email,
      groups: identity.groups,
      linked_at: existing?.linked_at ?? now,
      last_login_at: now,
    };
    await this.store.batch([
      { op: 'put', key, value: link },
      { op: 'sadd', key: userLinks(link.user_id), members: [key] },
    ]);
    return link;
  }

  async linkedTo(userId: string): Promise<Array<Omit<IdentityLink, 'user_id'>>> {
    const keys = await this.store.smembers(userLinks(userId));
    const links = await Promise.all(keys.map((k) => this.store.get<IdentityLink>(k)));
    return links
      .filter((l): l is IdentityLink => !!l)
      .map(({ user_id: _u, ...rest }) => rest)
      .sort((a, b) => a.linked_at.localeCompare(b.linked_at));
  }
}
