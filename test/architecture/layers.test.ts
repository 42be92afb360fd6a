/**
 * The import graph of src/ (and views/) against the layering in ARCHITECTURE.md: domain folders never
 * import a door, views/ imports no door, and no two folders import each other (directly or around a
 * loop). The files at src/'s top level are the composition root: they may import anything; below them
 * a module may name the root's `Services` type (`import type … from '../container.ts'`) and nothing else.
 *
 * Plain regular expressions over `import … from '…'` / `export … from '…'` / `import('…')`: relative
 * specifiers only (packages are not layers). Each allowed exception names who removes it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const DOORS = new Set(['admin', 'dashboard', 'scim', 'interactions', 'http', 'cli']);
const DOMAIN = new Set(['access', 'audit', 'keys', 'webhooks', 'directory', 'connectors', 'store', 'oidc', 'net', 'domain', 'verifier', 'config']);

/**
 * Known back edges (`from -> to` between folders), each closing an import loop, with who removes it. The
 * loop check runs on the graph without them; the lead shrinks this list as the owners fix them.
 */
const ALLOWED_BACK_EDGES: Record<string, string> = {};
/** Known imports of a module of src/'s top level from below it, with who removes each. */
const ALLOWED_IMPORTS: Record<string, string> = {};
/**
 * The doors: each serves one kind of caller over the same services (ARCHITECTURE.md), and none reaches
 * into another. What two doors share is in src/http/ (Koa helpers) or below (the domain); src/app.ts
 * assembles the doors and src/cli/main.ts is an entry point (both excepted).
 */
const DOOR_FOLDERS = new Set(['admin', 'dashboard', 'scim', 'interactions', 'cli']);
/** Known imports of one door by another, with who removes each (the dashboard's went with feat-dash). */
const ALLOWED_DOOR_IMPORTS: Record<string, string> = {};
/**
 * Store key strings (`xxx:{id}`, the hash tag of ARCHITECTURE.md's layout) stay in repositories. In the
 * doors' folders (and src/http, src/'s top level) only a `repository.ts` may write one; the rate limiters'
 * counters (src/http/rate-limit.ts) are infrastructure and build their keys from a name inside that module.
 * Known exceptions, with who removes each:
 */
const ALLOWED_KEY_FILES: Record<string, string> = {};
const STORE_KEY = /[`'"][a-z_-]+:(?:[a-z_-]+:)*\{/;
/** Entry points: processes of their own, which build the services as src/main.ts does. */
const ENTRY_POINTS = new Set([path.join('src', 'cli', 'main.ts')]);

interface Import {
  from: string;
  to: string;
  line: number;
  typeOnly: boolean;
}

function files(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.tsx?$/.test(e.name) && !/\.(test|d)\.ts$/.test(e.name))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

const IMPORT = /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function importsOf(file: string): Import[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const out: Import[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const specifier = m[3] ?? m[4];
    if (!specifier) continue;
    const at = m.index + m[0].search(/import|export/);
    out.push({
      from: file,
      to: path.normalize(path.join(path.dirname(file), specifier)),
      line: text.slice(0, at).split('\n').length,
      typeOnly: Boolean(m[2]),
    });
  }
  return out;
}

/** `src/keys/service.ts` → `keys`; `src/container.ts` → `root`; `views/pages.ts` → `views`. */
function layerOf(file: string): string {
  const parts = file.split(path.sep);
  if (parts[0] === 'views') return 'views';
  if (parts[0] !== 'src') return parts[0]!;
  return parts.length === 2 ? 'root' : parts[1]!;
}

function graph() {
  const all = [...files('src'), ...files('views')].flatMap(importsOf);
  const edges = new Map<string, Import[]>();
  for (const imp of all) {
    const a = layerOf(imp.from);
    const b = layerOf(imp.to);
    if (a === b) continue;
    const key = `${a} -> ${b}`;
    edges.set(key, [...(edges.get(key) ?? []), imp]);
  }
  return { all, edges };
}

const where = (imp: Import) => `${imp.from}:${imp.line} imports ${imp.to}`;
const importKey = (imp: Import) => `${imp.from} -> ${imp.to}`;

/** Strongly connected groups of folders (Tarjan), each of more than one folder. */
function cycles(edges: Map<string, Import[]>): string[][] {
  const next = new Map<string, Set<string>>();
  for (const key of edges.keys()) {
    const [a, b] = key.split(' -> ') as [string, string];
    if (a === 'root' || b === 'root' || ALLOWED_BACK_EDGES[key]) continue;
    next.set(a, (next.get(a) ?? new Set()).add(b));
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  let counter = 0;
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1) groups.push(group.sort());
    }
  };
  for (const v of next.keys()) if (!index.has(v)) visit(v);
  return groups;
}

describe('layers (ARCHITECTURE.md): imports point downward only', () => {
  const { all, edges } = graph();

  it('finds the imports it judges', () => {
    expect(all.length).toBeGreaterThan(200);
    expect(edges.has('admin -> keys')).toBe(true);
  });

  it('no domain folder imports a door', () => {
    const bad = all.filter((imp) => DOMAIN.has(layerOf(imp.from)) && DOORS.has(layerOf(imp.to)) && !ALLOWED_IMPORTS[importKey(imp)]);
    expect(bad.map(where)).toEqual([]);
  });

  it('no door imports another door (shared Koa helpers are in src/http/)', () => {
    const bad = all.filter((imp) => {
      const from = layerOf(imp.from);
      const to = layerOf(imp.to);
      return DOOR_FOLDERS.has(from) && DOOR_FOLDERS.has(to) && from !== to && !ENTRY_POINTS.has(imp.from) && !ALLOWED_DOOR_IMPORTS[importKey(imp)];
    });
    expect(bad.map(where)).toEqual([]);
  });

  it('store key strings stay in repositories, out of the doors', () => {
    const doorFiles = files('src').filter((f) => (DOOR_FOLDERS.has(layerOf(f)) || layerOf(f) === 'http' || layerOf(f) === 'root') && path.basename(f) !== 'repository.ts');
    const bad = doorFiles.flatMap((f) =>
      readFileSync(path.join(ROOT, f), 'utf8')
        .split('\n')
        .map((line, i) => ({ line, at: `${f}:${i + 1}` }))
        .filter(({ line }) => STORE_KEY.test(line) && !ALLOWED_KEY_FILES[f])
        .map(({ line, at }) => `${at}: ${line.trim()}`),
    );
    expect(bad).toEqual([]);
    // Each exception still needed: shrink the list when one is fixed.
    for (const file of Object.keys(ALLOWED_KEY_FILES)) expect(doorFiles.includes(file) && STORE_KEY.test(readFileSync(path.join(ROOT, file), 'utf8')), file).toBe(true);
  });

  it('views/ imports no door and nothing of the root', () => {
    const bad = all.filter((imp) => layerOf(imp.from) === 'views' && (DOORS.has(layerOf(imp.to)) || layerOf(imp.to) === 'root'));
    expect(bad.map(where)).toEqual([]);
  });

  it('below the composition root, only the Services type is taken from it', () => {
    const bad = all.filter(
      (imp) => layerOf(imp.from) !== 'root' && layerOf(imp.to) === 'root' && !ENTRY_POINTS.has(imp.from) && !(imp.typeOnly && imp.to === path.join('src', 'container.ts')) && !ALLOWED_IMPORTS[importKey(imp)],
    );
    expect(bad.map(where)).toEqual([]);
  });

  it('no import cycle between folders', () => {
    const explain = cycles(edges).map((group) => {
      const inside = [...edges.entries()].filter(([key]) => {
        const [a, b] = key.split(' -> ') as [string, string];
        return group.includes(a) && group.includes(b);
      });
      return `${group.join(', ')}:\n${inside.map(([key, imps]) => `  ${key}: ${imps.map(where).join('; ')}`).join('\n')}`;
    });
    expect(explain).toEqual([]);
  });

  it('every allowed exception is still needed (shrink the lists when one is fixed)', () => {
    for (const name of Object.keys(ALLOWED_BACK_EDGES)) expect(edges.has(name), name).toBe(true);
    const keys = new Set(all.map(importKey));
    for (const name of Object.keys(ALLOWED_IMPORTS)) expect(keys.has(name), name).toBe(true);
    for (const name of Object.keys(ALLOWED_DOOR_IMPORTS)) expect(keys.has(name), name).toBe(true);
  });
});
