import { describe, expect, it } from 'vitest';
import { attributesOf, matches, parseFilter, parsePatchPath, ScimFilterError } from './filter.ts';
import { applyPatch, groupFromJson, groupJson, GROUP_ATTRS, patchOperations, SCHEMA_GROUP, SCHEMA_USER, ScimInputError, userFromJson, userJson, USER_ATTRS } from './resources.ts';

const ada = { id: 'u1', userName: 'Ada@Contoso.com', externalId: 'ExT-1', active: true, displayName: 'Ada Lovelace', name: { givenName: 'Ada', familyName: 'Lovelace' }, emails: [{ value: 'ada@contoso.com', type: 'work', primary: true }, { value: 'ada@home.example', type: 'home' }] };

describe('SCIM filters (RFC 7644 §3.4.2.2)', () => {
  it.each([
    ['userName eq "ada@contoso.com"', true],
    ['USERNAME EQ "ADA@CONTOSO.COM"', true],
    ['externalId eq "ext-1"', false],
    ['externalId eq "ExT-1"', true],
    ['externalId eq ExT-1', true],
    ['emails[type eq "work" and value co "contoso"]', true],
    ['emails[type eq "other"]', false],
    ['emails.value ew "home.example"', true],
    ['emails co "home"', true],
    ['name.givenName sw "A" and not (active eq false)', true],
    ['active eq false or displayName pr', true],
    ['urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ada@contoso.com"', true],
    ['displayName ne "Ada Lovelace"', false],
    ['title pr', false],
  ])('%s → %s', (text, expected) => {
    expect(matches(ada, parseFilter(text))).toBe(expected);
  });

  it.each(['', 'userName', 'userName eq', 'userName zz "x"', 'userName eq "x" and', '(userName eq "x"', 'userName eq "x" garbage', 'userName eq "unterminated', 'emails[type eq "work"', '"x" eq userName', `${'('.repeat(40)}a eq 1${')'.repeat(40)}`, 'a eq "\\q"'])('refuses %j', (text) => {
    expect(() => parseFilter(text)).toThrow(ScimFilterError);
  });

  it('names the attributes it filters on, inside value filters too', () => {
    expect(attributesOf(parseFilter('emails[type eq "work"] and userName pr'))).toEqual(['emails.type', 'userName']);
  });

  it('parses PATCH paths with value filters and sub-attributes', () => {
    expect(parsePatchPath('members[value eq "abc"]')).toMatchObject({ path: { attr: 'members', sub: null }, subAfterFilter: null, filter: { type: 'compare', value: 'abc' } });
    expect(parsePatchPath('emails[type eq "work"].value')).toMatchObject({ path: { attr: 'emails' }, subAfterFilter: 'value' });
    expect(parsePatchPath('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager')).toMatchObject({ path: { schema: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User', attr: 'manager' } });
    expect(() => parsePatchPath('emails[type eq "work"]junk')).toThrow(ScimFilterError);
  });
});

describe('SCIM PATCH as Entra ID and Okta send it', () => {
  const base = userFromJson({ userName: 'ada@contoso.com', emails: [{ value: 'ada@contoso.com', type: 'work', primary: true }], name: { givenName: 'Ada', familyName: 'L' } });
  const patchUser = (body: unknown) => userFromJson(applyPatch(userJson(base), USER_ATTRS, SCHEMA_USER, patchOperations(body)));

  it('Entra ID: capitalised ops, string booleans, filtered email path, dotted names without a path', () => {
    expect(patchUser({ Operations: [{ op: 'Replace', path: 'active', value: 'False' }] }).active).toBe(false);
    expect(patchUser({ Operations: [{ op: 'Replace', path: 'emails[type eq "work"].value', value: 'new@contoso.com' }] }).emails).toEqual([{ value: 'new@contoso.com', type: 'work', primary: true }]);
    const replaced = patchUser({ Operations: [{ op: 'replace', value: { displayName: 'Ada L', 'name.givenName': 'Augusta', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber': '7' } }] });
    expect(replaced).toMatchObject({ displayName: 'Ada L', name: { givenName: 'Augusta', familyName: 'L' } });
  });

  it('makes the work email a filtered replace names when there is none yet', () => {
    const none = userFromJson({ userName: 'x@contoso.com' });
    const out = userFromJson(applyPatch(userJson(none), USER_ATTRS, SCHEMA_USER, patchOperations({ Operations: [{ op: 'Replace', path: 'emails[type eq "work"].value', value: 'x@contoso.com' }] })));
    expect(out.emails).toEqual([{ value: 'x@contoso.com', type: 'work' }]);
  });

  it('Okta: replace without a path; unknown attributes (password, enterprise extension) ignored', () => {
    expect(patchUser({ Operations: [{ op: 'replace', value: { active: false, password: 'hunter2' } }] }).active).toBe(false);
    expect(patchUser({ Operations: [{ op: 'add', path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department', value: 'R&D' }] })).toEqual(base);
  });

  it('refuses what cannot be applied, naming the scimType', () => {
    const refusal = (body: unknown) => {
      try {
        patchUser(body);
        return undefined;
      } catch (err) {
        return err instanceof ScimInputError ? err.scimType : 'other';
      }
    };
    expect(refusal({ Operations: [{ op: 'move', path: 'active', value: true }] })).toBe('invalidSyntax');
    expect(refusal({ Operations: [] })).toBe('invalidSyntax');
    expect(refusal({ Operations: [{ op: 'remove' }] })).toBe('noTarget');
    expect(refusal({ Operations: [{ op: 'replace', path: 'active', value: 'maybe' }] })).toBe('invalidValue');
    expect(refusal({ Operations: [{ op: 'remove', path: 'userName' }] })).toBe('invalidValue');
    expect(refusal({ Operations: [{ op: 'replace', path: 'emails[type eq', value: 'x' }] })).toBe('invalidPath');
  });

  it('group members: add, remove by value filter (Okta, Entra with flag), remove with a value list (Entra), replace', () => {
    const group = groupFromJson({ displayName: 'admins', members: [{ value: 'a' }, { value: 'b' }] });
    const patchGroup = (body: unknown) => groupFromJson(applyPatch(groupJson(group), GROUP_ATTRS, SCHEMA_GROUP, patchOperations(body))).members;
    expect(patchGroup({ Operations: [{ op: 'Add', path: 'members', value: [{ $ref: null, value: 'c' }, { value: 'a' }] }] })).toEqual(['a', 'b', 'c']);
    expect(patchGroup({ Operations: [{ op: 'remove', path: 'members[value eq "a"]' }] })).toEqual(['b']);
    expect(patchGroup({ Operations: [{ op: 'Remove', path: 'members', value: [{ value: 'b' }] }] })).toEqual(['a']);
    expect(patchGroup({ Operations: [{ op: 'replace', path: 'members', value: [{ value: 'z' }] }] })).toEqual(['z']);
    expect(patchGroup({ Operations: [{ op: 'remove', path: 'members' }] })).toEqual([]);
  });
});
