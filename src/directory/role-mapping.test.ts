import { describe, expect, it } from 'vitest';
import { diffRoles, roleAtLeast, rolesFromGroups, strongest, type Grant, type RoleMapping } from './role-mapping.ts';
import type { Role } from './roles.ts';

const ADMINS_DN = 'cn=logtrace-admins,ou=groups,dc=acme,dc=ru';

const m = (id: string, source: string, group: string, project_id: string, role: Role): RoleMapping => ({ id, source, group, project_id, role });

describe('rolesFromGroups', () => {
  const cases: Array<{
    name: string;
    mappings: RoleMapping[];
    sources: Array<{ source: string; groups: string[] }>;
    want: Grant[];
  }> = [
    { name: 'empty inputs', mappings: [], sources: [], want: [] },
    { name: 'no mappings', mappings: [], sources: [{ source: 'ldap', groups: ['logtrace-admins'] }], want: [] },
    { name: 'no groups', mappings: [m('1', 'ldap', 'logtrace-admins', 'p1', 'admin')], sources: [], want: [] },
    {
      name: 'source present with no groups',
      mappings: [m('1', 'ldap', 'logtrace-admins', 'p1', 'admin')],
      sources: [{ source: 'ldap', groups: [] }],
      want: [],
    },
    {
      name: 'no match',
      mappings: [m('1', 'ldap', 'logtrace-admins', 'p1', 'admin')],
      sources: [{ source: 'ldap', groups: ['logtrace-viewers', 'staff'] }],
      want: [],
    },
    {
      name: 'one match',
      mappings: [m('1', 'ldap', 'logtrace-admins', 'p1', 'admin'), m('2', 'ldap', 'logtrace-viewers', 'p2', 'viewer')],
      sources: [{ source: 'ldap', groups: ['logtrace-admins'] }],
      want: [{ project_id: 'p1', role: 'admin' }],
    },
    {
      name: 'two groups, different roles on one project: strongest wins',
      mappings: [m('1', 'ldap', 'logtrace-viewers', 'p1', 'viewer'), m('2', 'ldap', 'logtrace-admins', 'p1', 'admin')],
      sources: [{ source: 'ldap', groups: ['logtrace-viewers', 'logtrace-admins'] }],
      want: [{ project_id: 'p1', role: 'admin' }],
    },
    {
      name: 'strongest wins whatever the order of mappings',
      mappings: [m('1', 'ldap', 'a', 'p1', 'owner'), m('2', 'ldap', 'b', 'p1', 'member'), m('3', 'ldap', 'c', 'p1', 'viewer')],
      sources: [{ source: 'ldap', groups: ['c', 'b', 'a'] }],
      want: [{ project_id: 'p1', role: 'owner' }],
    },
    {
      name: 'one group mapped onto several projects, sorted by project_id',
      mappings: [m('1', 'ldap', 'ops', 'p3', 'member'), m('2', 'ldap', 'ops', 'p1', 'viewer'), m('3', 'ldap', 'ops', 'p2', 'admin')],
      sources: [{ source: 'ldap', groups: ['ops'] }],
      want: [
        { project_id: 'p1', role: 'viewer' },
        { project_id: 'p2', role: 'admin' },
        { project_id: 'p3', role: 'member' },
      ],
    },
    {
      name: 'different sources do not cross',
      mappings: [m('1', 'ldap', 'admins', 'p1', 'admin'), m('2', 'entra', 'viewers', 'p2', 'viewer')],
      sources: [
        { source: 'entra', groups: ['admins'] },
        { source: 'ldap', groups: ['viewers'] },
      ],
      want: [],
    },
    {
      name: 'several sources each matching their own mappings',
      mappings: [m('1', 'ldap', 'admins', 'p1', 'admin'), m('2', 'entra', 'admins', 'p1', 'owner'), m('3', 'saml-x', 'dev', 'p2', 'member')],
      sources: [
        { source: 'ldap', groups: ['admins'] },
        { source: 'entra', groups: ['admins'] },
        { source: 'saml-x', groups: ['dev'] },
      ],
      want: [
        { project_id: 'p1', role: 'owner' },
        { project_id: 'p2', role: 'member' },
      ],
    },
    {
      name: 'the same source given twice: groups are merged',
      mappings: [m('1', 'ldap', 'a', 'p1', 'viewer'), m('2', 'ldap', 'b', 'p2', 'member')],
      sources: [
        { source: 'ldap', groups: ['a'] },
        { source: 'ldap', groups: ['b'] },
      ],
      want: [
        { project_id: 'p1', role: 'viewer' },
        { project_id: 'p2', role: 'member' },
      ],
    },
    {
      name: 'source ids are case-sensitive (they are config ids)',
      mappings: [m('1', 'Entra', 'admins', 'p1', 'admin')],
      sources: [{ source: 'entra', groups: ['admins'] }],
      want: [],
    },
    {
      name: 'group names compare case-insensitively',
      mappings: [m('1', 'ldap', 'LogTrace-Admins', 'p1', 'admin')],
      sources: [{ source: 'ldap', groups: ['logtrace-ADMINS'] }],
      want: [{ project_id: 'p1', role: 'admin' }],
    },
    {
      name: 'non-ASCII group names compare case-insensitively',
      mappings: [m('1', 'ldap', 'Администраторы', 'p1', 'admin')],
      sources: [{ source: 'ldap', groups: ['АДМИНИСТРАТОРЫ'] }],
      want: [{ project_id: 'p1', role: 'admin' }],
    },
    {
      name: 'surrounding whitespace is ignored',
      mappings: [m('1', 'ldap', ' admins ', 'p1', 'admin')],
      sources: [{ source: 'ldap', groups: ['admins'] }],
      want: [{ project_id: 'p1', role: 'admin' }],
    },
    {
      name: 'mapping by cn matches a group given as DN',
      mappings: [m('1', 'ldap', 'logtrace-admins', 'p1', 'admin')],
      sources: [{ source: 'ldap', groups: [ADMINS_DN] }],
      want: [{ project_id: 'p1', role: 'admin' }],
    },
    {
      name: 'mapping by DN matches the same DN',
      mappings: [m('1', 'ldap', ADMINS_DN, 'p1', 'admin')],
      sources: [{ source: 'ldap', groups: [ADMINS_DN] }],
      want: [{ project_id: 'p1', role: 'admin' }],
    },
    {
      name: 'mapping by DN matches a DN differing in case and spacing',
      mappings: [m('1', 'ldap', 'CN=LogTrace-Admins, OU=Groups, DC=acme, DC=ru', 'p1', 'admin')],
      sources: [{ source: 'ldap', groups: ['cn=logtrace-admins,ou=groups,dc=acme,dc=ru'] }],
      want: [{ project_id: 'p1', role: 'admin' }],
    },
    {
      name: 'mapping by DN does not match a bare cn (the DN cannot be known)',
      mappings: [m('1', 'ldap', ADMINS_DN, 'p1', 'admin')],
      sources: [{ source: 'ldap', groups: ['logtrace-admins'] }],
      want: [],
    },
    {
      name: 'mapping by DN does not match a group of the same cn elsewhere in the tree',
      mappings: [m('1', 'ldap', ADMINS_DN, 'p1', 'admin')],
      sources: [{ source: 'ldap', groups: ['cn=logtrace-admins,ou=legacy,dc=acme,dc=ru'] }],
      want: [],
    },
    {
      name: 'mapping by cn matches an Active Directory style DN',
      mappings: [m('1', 'ldap', 'Domain Admins', 'p1', 'owner')],
      sources: [{ source: 'ldap', groups: ['CN=Domain Admins,CN=Users,DC=corp,DC=example,DC=com'] }],
      want: [{ project_id: 'p1', role: 'owner' }],
    },
    {
      name: 'escaped comma in the first RDN value',
      mappings: [m('1', 'ldap', 'Ops, Night Shift', 'p1', 'member')],
      sources: [{ source: 'ldap', groups: ['cn=Ops\\, Night Shift,ou=groups,dc=acme,dc=ru'] }],
      want: [{ project_id: 'p1', role: 'member' }],
    },
    {
      name: 'only the first RDN counts: a parent OU name does not match',
      mappings: [m('1', 'ldap', 'groups', 'p1', 'admin')],
      sources: [{ source: 'ldap', groups: [ADMINS_DN] }],
      want: [],
    },
    {
      name: 'a prefix of a group name does not match',
      mappings: [m('1', 'ldap', 'logtrace', 'p1', 'admin')],
      sources: [{ source: 'ldap', groups: ['logtrace-admins'] }],
      want: [],
    },
    {
      name: 'DN groups from a connector source (SAML attribute with DNs)',
      mappings: [m('1', 'adfs', 'logtrace-viewers', 'p9', 'viewer')],
      sources: [{ source: 'adfs', groups: ['CN=logtrace-viewers,OU=Groups,DC=corp,DC=local'] }],
      want: [{ project_id: 'p9', role: 'viewer' }],
    },
  ];

  it.each(cases)('$name', ({ mappings, sources, want }) => {
    expect(rolesFromGroups(mappings, sources)).toEqual(want);
  });

  it('does not modify its inputs', () => {
    const mappings = [m('1', 'ldap', 'b', 'p2', 'viewer'), m('2', 'ldap', 'a', 'p1', 'admin')];
    const sources = [{ source: 'ldap', groups: ['a', 'b'] }];
    const copy = structuredClone({ mappings, sources });
    rolesFromGroups(mappings, sources);
    expect({ mappings, sources }).toEqual(copy);
  });
});

describe('strongest', () => {
  const cases: Array<[Role | null, Role | null, Role | null]> = [
    [null, null, null],
    ['viewer', null, 'viewer'],
    [null, 'owner', 'owner'],
    ['viewer', 'member', 'member'],
    ['member', 'viewer', 'member'],
    ['admin', 'owner', 'owner'],
    ['owner', 'admin', 'owner'],
    ['admin', 'admin', 'admin'],
    ['viewer', 'admin', 'admin'],
  ];
  it.each(cases)('strongest(%s, %s) = %s', (a, b, want) => {
    expect(strongest(a, b)).toBe(want);
  });
});

describe('roleAtLeast', () => {
  const cases: Array<[Role | null, Role, boolean]> = [
    [null, 'viewer', false],
    ['viewer', 'viewer', true],
    ['viewer', 'member', false],
    ['member', 'viewer', true],
    ['member', 'admin', false],
    ['admin', 'admin', true],
    ['admin', 'owner', false],
    ['owner', 'admin', true],
    ['owner', 'owner', true],
  ];
  it.each(cases)('roleAtLeast(%s, %s) = %s', (role, min, want) => {
    expect(roleAtLeast(role, min)).toBe(want);
  });
});

describe('diffRoles', () => {
  const g = (project_id: string, role: Role): Grant => ({ project_id, role });
  const cases: Array<{
    name: string;
    before: Array<[string, Grant[]]>;
    after: Array<[string, Grant[]]>;
    want: ReturnType<typeof diffRoles>;
  }> = [
    { name: 'both empty', before: [], after: [], want: [] },
    { name: 'no change', before: [['u1', [g('p1', 'admin')]]], after: [['u1', [g('p1', 'admin')]]], want: [] },
    {
      name: 'grant added',
      before: [],
      after: [['u1', [g('p1', 'viewer')]]],
      want: [{ user_id: 'u1', project_id: 'p1', from: null, to: 'viewer' }],
    },
    {
      name: 'grant removed (user absent after)',
      before: [['u1', [g('p1', 'viewer')]]],
      after: [],
      want: [{ user_id: 'u1', project_id: 'p1', from: 'viewer', to: null }],
    },
    {
      name: 'grant removed (user present with no grants)',
      before: [['u1', [g('p1', 'viewer')]]],
      after: [['u1', []]],
      want: [{ user_id: 'u1', project_id: 'p1', from: 'viewer', to: null }],
    },
    {
      name: 'role raised and lowered',
      before: [['u1', [g('p1', 'viewer'), g('p2', 'owner')]]],
      after: [['u1', [g('p1', 'admin'), g('p2', 'member')]]],
      want: [
        { user_id: 'u1', project_id: 'p1', from: 'viewer', to: 'admin' },
        { user_id: 'u1', project_id: 'p2', from: 'owner', to: 'member' },
      ],
    },
    {
      name: 'duplicate grants on one project compare by the strongest',
      before: [['u1', [g('p1', 'viewer'), g('p1', 'admin')]]],
      after: [['u1', [g('p1', 'admin')]]],
      want: [],
    },
    {
      name: 'several users, sorted by user then project, unchanged omitted',
      before: [
        ['u2', [g('p2', 'viewer')]],
        ['u1', [g('p1', 'member')]],
        ['u3', [g('p1', 'viewer')]],
      ],
      after: [
        ['u3', [g('p1', 'viewer')]],
        ['u2', [g('p1', 'viewer'), g('p2', 'member')]],
        ['u1', []],
      ],
      want: [
        { user_id: 'u1', project_id: 'p1', from: 'member', to: null },
        { user_id: 'u2', project_id: 'p1', from: null, to: 'viewer' },
        { user_id: 'u2', project_id: 'p2', from: 'viewer', to: 'member' },
      ],
    },
  ];
  it.each(cases)('$name', ({ before, after, want }) => {
    expect(diffRoles(new Map(before), new Map(after))).toEqual(want);
  });

  it('composes with rolesFromGroups for a mapping preview', () => {
    const current = [m('1', 'ldap', 'logtrace-viewers', 'p1', 'viewer')];
    const proposed = [...current, m('2', 'ldap', 'logtrace-admins', 'p1', 'admin')];
    const groups = new Map([
      ['alice', [{ source: 'ldap', groups: ['cn=logtrace-admins,ou=groups,dc=acme,dc=ru', 'cn=logtrace-viewers,ou=groups,dc=acme,dc=ru'] }]],
      ['bob', [{ source: 'ldap', groups: ['cn=logtrace-viewers,ou=groups,dc=acme,dc=ru'] }]],
    ]);
    const grantsUnder = (mappings: RoleMapping[]) =>
      new Map([...groups].map(([user, sources]) => [user, rolesFromGroups(mappings, sources)] as const));
    expect(diffRoles(grantsUnder(current), grantsUnder(proposed))).toEqual([
      { user_id: 'alice', project_id: 'p1', from: 'viewer', to: 'admin' },
    ]);
  });
});
