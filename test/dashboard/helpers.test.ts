import { describe, expect, it } from 'vitest';
import { toCsv, toJsonLines } from '../../src/dashboard/security-log.ts';
import { sortKeys } from '../../src/dashboard/api-access.ts';
import { safeReturnTo } from '../../src/dashboard/sign-in.ts';
import { axisMax, USAGE_OUTCOMES } from '../../views/dashboard/pages/usage.ts';
import type { KeyRow } from '../../views/dashboard/pages/api-access.ts';
import { VERIFY_OUTCOMES } from '../../src/keys/index.ts';

const event = (over: Record<string, unknown> = {}) => ({
  id: '1-0', timestamp: '2026-01-02T03:04:05.000Z', action: 'key.created', outcome: 'success' as const,
  actor: { type: 'user' as const, id: 'u1' }, target: { type: 'api_key', id: 'key_1' }, project_id: 'prj_1', ip: '127.0.0.1', user_agent: 'UA, "quoted"',
  ...over,
});

describe('dashboard helpers', () => {
  it('exports CSV with RFC 4180 quoting and neutralises spreadsheet formulas', () => {
    const csv = toCsv([event({ detail: { name: '=HYPERLINK("x")' } }), event({ id: '2-0', user_agent: '@evil' })]);
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe('id,timestamp,action,outcome,actor_type,actor_id,target_type,target_id,project_id,ip,user_agent,detail');
    expect(lines[1]).toBe('1-0,2026-01-02T03:04:05.000Z,key.created,success,user,u1,api_key,key_1,prj_1,127.0.0.1,"UA, ""quoted""","{""name"":""=HYPERLINK(\\""x\\"")""}"');
    expect(lines[2]!.endsWith(",'@evil,")).toBe(true);
  });

  it('exports JSON Lines, one event per line', () => {
    const out = toJsonLines([event(), event({ id: '2-0' })]);
    expect(out.trimEnd().split('\n').map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(['1-0', '2-0']);
    expect(toJsonLines([])).toBe('');
  });

  it('sorts keys by a column, with never-used keys first ascending', () => {
    const row = (name: string, created: string, last: string | null): KeyRow => ({ id: `key_${name}`, name, prefix: 'lt_live_x', scopes: ['read:logs'], environment: 'live', status: 'active', created_at: created, expires_at: created, last_used_at: last });
    const keys = [row('b', '2026-01-02', '2026-02-01'), row('A', '2026-01-03', null), row('c', '2026-01-01', '2026-03-01')];
    expect(sortKeys(keys, 'name', 'asc').map((k) => k.name)).toEqual(['A', 'b', 'c']);
    expect(sortKeys(keys, 'created', 'desc').map((k) => k.name)).toEqual(['A', 'b', 'c']);
    expect(sortKeys(keys, 'last_used', 'asc').map((k) => k.name)).toEqual(['A', 'b', 'c']);
    expect(sortKeys(keys, 'last_used', 'desc').map((k) => k.name)).toEqual(['c', 'b', 'A']);
  });

  it('returns only to dashboard pages after sign-in', () => {
    expect(safeReturnTo('/dashboard/settings/security/log?project=p')).toBe('/dashboard/settings/security/log?project=p');
    for (const bad of ['//evil.example/dashboard', 'https://evil.example', '/dashboardx', '/\\evil.example', '/dashboard/\r\nx', undefined, ['/dashboard']]) {
      expect(safeReturnTo(bad)).toBe('/dashboard');
    }
  });

  it('usage chart: a round axis maximum, and every verification outcome has a colour and a name', () => {
    expect([0, 1, 3, 4, 7, 10, 11, 180, 2001].map(axisMax)).toEqual([1, 1, 5, 5, 10, 10, 20, 200, 5000]);
    expect([...USAGE_OUTCOMES]).toEqual([...VERIFY_OUTCOMES]);
  });
});
