import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/auth-server.ts';

/** Every module specifier a JavaScript or TypeScript file imports (static and dynamic). */
function importsOf(source: string): string[] {
  return [...source.matchAll(/(?:^|\s)(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

describe('logtrace-auth/verifier as a package', () => {
  it('imports nothing but jose, node built-ins and its own files (never server modules)', async () => {
    const dir = path.join(ROOT, 'src/verifier');
    for (const file of (await readdir(dir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
      for (const specifier of importsOf(await readFile(path.join(dir, file), 'utf8'))) {
        const allowed = specifier === 'jose' || specifier.startsWith('node:') || (specifier.startsWith('./') && !specifier.includes('/', 2));
        expect(allowed, `${file} imports ${specifier}`).toBe(true);
      }
    }
  });

  it('builds to plain JavaScript with type declarations that node loads from the exports map', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'lt-verifier-build-'));
    try {
      const built = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.verifier.json', '--outDir', out], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
      expect(built.status, built.stdout + built.stderr).toBe(0);
      const files = await readdir(out);
      expect(files).toEqual(expect.arrayContaining(['index.js', 'index.d.ts']));
      for (const file of files.filter((f) => f.endsWith('.js'))) {
        for (const specifier of importsOf(await readFile(path.join(out, file), 'utf8'))) expect(specifier === 'jose' || specifier.startsWith('node:') || /^\.\/[\w-]+\.js$/.test(specifier), `${file} imports ${specifier}`).toBe(true);
      }
      const loaded = (await import(pathToFileURL(path.join(out, 'index.js')).href)) as Record<string, unknown>;
      expect(Object.keys(loaded).sort()).toEqual(['VerifierError', 'createVerifier', 'credentialsOf', 'expressGuard', 'koaGuard', 'nodeHttpGuard', 'sendRefusal']);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, Record<string, string>>; scripts: Record<string, string> };
    expect(pkg.exports['./verifier']).toEqual({ 'logtrace-source': './src/verifier/index.ts', types: './dist/verifier/index.d.ts', default: './dist/verifier/index.js' });
    // The server still starts from its sources.
    expect(pkg.scripts.start).toBe('node src/main.ts');
  });

  it('resolves logtrace-auth/verifier by name inside this repository (the example API does)', () => {
    const run = spawnSync(process.execPath, ['--conditions=logtrace-source', '--input-type=module', '-e', "const m = await import('logtrace-auth/verifier'); console.log(typeof m.createVerifier)"], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(run.stdout.trim(), run.stderr).toBe('function');
  });
});
