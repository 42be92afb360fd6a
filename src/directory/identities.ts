import { createHash } from 'node:crypto';
import type { Store } from '../store/index.ts';

/**
 * Links between upstream identities and our users. A link is made for one upstream subject *as vouched for
 * by one issuer* (the OIDC issuer, SAML IdP entity id and metadata, LDAP directory, Yandex / VK endpoint the
 * connector trusted when the link was made: `Identity.issuer`). The same upstream identity always maps to
 * the same user, hence the same `sub`; the same `sub` from an issuer the connection was later pointed at is
 * another identity, which inherits nothing.
 *
 * Layout: identity:link:{<connector>:<sha256(issuer), 32 hex>:<subject>} → IdentityLink;
 *         identity:user:{userId} → set of link keys.
 * Links made before issuers were recorded live at identity:{<connector>:<subject>} with no `issuer`
 * ("legacy links"); they are honoured only where the caller decides the connection still points where it
 * did (see `findForSignIn`), and are then moved to their issuer's key.
 */
interface IdentityLink {
  [key: string]: unknown;
  user_id: string;
  connector_id: string;
  subject: string;
  /** The issuer the link was made with; null for a legacy link (made before issuers were recorded). */
  issuer: string | null;
  email: string | null;
  groups: string[];
  linked_at: string;
  last_login_at: string;
}

/** What a link is looked up by. */
interface LinkRef {
  connector_id: string;
  issuer: string;
  subject: string;
}

const digest = (issuer: string) => createHash('sha256').update(issuer).digest('hex').slice(0, 32);
const linkKey = (ref: LinkRef) => `identity:link:{${ref.connector_id}:${digest(ref.issuer)}:${ref.subject}}`;
const legacyKey = (connectorId: string, subject: string) => `identity:{${connectorId}:${subject}}`;
const userLinks = (userId: string) => `identity:user:{${userId}}`;

export class IdentityRepository {
  private readonly store: Store;
  constructor(store: Store) {
    this.store = store;
  }

  /** The link of this subject as vouched for by this issuer; legacy links are not looked at. */
  async find(ref: LinkRef): Promise<IdentityLink | undefined> {
    const link = await this.store.get<IdentityLink>(linkKey(ref));
    return link ? { ...link, issuer: link.issuer ?? ref.issuer } : undefined;
  }

  /**
   * The link a sign-in (or the directory sync) resolves to: the one made with this issuer, else a legacy
   * link of the same connector and subject when `legacyTrusted()` says the connection still points at the
   * upstream it pointed at when issuers began to be recorded. A trusted legacy link is recorded under the
   * issuer there and then (and leaves its legacy place), so it is decided once.
   */
  async findForSignIn(ref: LinkRef, legacyTrusted: () => Promise<boolean>): Promise<IdentityLink | undefined> {
    const current = await this.find(ref);
    if (current) return current;
    const legacy = await this.store.get<IdentityLink>(legacyKey(ref.connector_id, ref.subject));
    if (!legacy || (legacy.issuer ?? null) !== null || !(await legacyTrusted())) return undefined;
    const migrated: IdentityLink = { ...legacy, issuer: ref.issuer };
    const key = linkKey(ref);
    // A concurrent sign-in may have linked this issuer's key meanwhile: the first link stays.
    if (!(await this.store.putIfAbsent(key, migrated))) return this.find(ref);
    // The user's index (one hash tag) in one batch, then the legacy link goes (its own tag).
    await this.store.batch([
      { op: 'sadd', key: userLinks(legacy.user_id), members: [key] },
      { op: 'srem', key: userLinks(legacy.user_id), members: [legacyKey(ref.connector_id, ref.subject)] },
    ]);
    await this.store.delete(legacyKey(ref.connector_id, ref.subject));
    return migrated;
  }

  /** Links (or refreshes the link of) an upstream identity, as vouched for by its issuer, to a user. */
  async link(userId: string, identity: LinkRef & { email: string | null; groups: string[] }): Promise<IdentityLink> {
    const key = linkKey(identity);
    const existing = await this.store.get<IdentityLink>(key);
    const now = new Date().toISOString();
    const link: IdentityLink = {
      user_id: existing?.user_id ?? userId,
      connector_id: identity.connector_id,
      subject: identity.subject,
      issuer: identity.issuer,
      email: identity.email,
      groups: identity.groups,
      linked_at: existing?.linked_at ?? now,
      last_login_at: now,
    };
    // The user's index first (linkedTo skips a key without a link), then the link: a link always shows
    // on its user, so it can be seen and removed.
    await this.store.sadd(userLinks(link.user_id), [key]);
    await this.store.put(key, link);
    return link;
  }

  async linkedTo(userId: string): Promise<Array<Pick<IdentityLink, 'connector_id' | 'subject' | 'issuer' | 'email' | 'groups' | 'linked_at' | 'last_login_at'>>> {
    const keys = await this.store.smembers(userLinks(userId));
    const links = await Promise.all(keys.map((k) => this.store.get<IdentityLink>(k)));
    return links
      .filter((l): l is IdentityLink => !!l)
      .map(({ user_id: _u, ...rest }) => ({ ...rest, issuer: rest.issuer ?? null }))
      .sort((a, b) => a.linked_at.localeCompare(b.linked_at));
  }
}
