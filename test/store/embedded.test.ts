import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import { openEmbeddedStore } from '../../src/store/embedded.ts';
import type { Store } from '../../src/store/index.ts';
import { runStoreContract } from './contract.ts';

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'lt-embedded-'));
}

runStoreContract('embedded (lmdb)', async () => {
  const dir = await tempDir();
  let store = await openEmbeddedStore({ path: dir });
  return {
    store,
    reopen: async () => {
      await store.close();
      store = await openEmbeddedStore({ path: dir });
      return store;
    },
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('embedded store specifics', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });
  async function fresh(options: { sweepIntervalMs?: number; prefix?: string } = {}): Promise<{ dir: string; store: Store }> {
    const dir = await tempDir();
    const store = await openEmbeddedStore({ path: dir, ...options });
    cleanups.push(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });
    return { dir, store };
  }

  it('zero-pads event ids so that string order is id order', async () => {
    const { store } = await fresh();
    const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => store.append('log', { i })));
    expect(ids).toEqual([...ids].sort());
    for (const id of ids) expect(id).toMatch(/^\d{13}-\d{6}$/);
  });

  it('keeps stores with different prefixes in one directory apart', async () => {
    const { dir, store } = await fresh({ prefix: 'a:' });
    const other = await openEmbeddedStore({ path: dir, prefix: 'b:' });
    try {
      await store.put('k', { from: 'a' });
      await other.append('log', { from: 'b' });
      expect(await other.get('k')).toBeUndefined();
      expect(await store.range('log')).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('sweeps expired entries off disk', async () => {
    const { dir, store } = await fresh({ sweepIntervalMs: 200 });
    await store.put('short', { a: 1 }, 1);
    await store.sadd('short-set', ['m'], 1);
    await store.put('long', { a: 2 }, 100);
    await store.put('forever', { a: 3 });
    await store.put('rewritten', { a: 4 }, 1);
    await store.put('rewritten', { a: 5 });
    await new Promise((resolve) => setTimeout(resolve, 1600));
    await store.close();

    const root = open({ path: dir, encoding: 'json' });
    try {
      const kv = root.openDB<unknown, string>({ name: 'kv', encoding: 'json' });
      expect([...kv.getKeys()].sort()).toEqual(['lt:forever', 'lt:long', 'lt:rewritten']);
      const exp = root.openDB<unknown, [number, string]>({ name: 'exp', encoding: 'json' });
      expect([...exp.getKeys()].map(([, key]) => key)).toEqual(['lt:long']);
    } finally {
      await root.close();
    }
  });

  it('stays atomic across processes sharing the directory', async () => {
    const { dir, store } = await fresh();
    await store.put('token', { kind: 'code' });
    const module = fileURLToPath(new URL('../../src/store/embedded.ts', import.meta.url));
    // Each child process hammers the same keys; LMDB's writer lock must serialise them.
    const child = `
      const { openEmbeddedStore } = await import(${JSON.stringify(module)});
      const store = await openEmbeddedStore({ path: ${JSON.stringify(dir)} });
      const [, startAt] = process.argv;
      while (Date.now() < Number(startAt)) await new Promise((r) => setTimeout(r, 5));
      const out = { won: false, consumed: false, ids: [] };
      for (let i = 0; i < 100; i++) {
        await store.incr('counter');
        if (await store.putIfAbsent('winner', { pid: process.pid })) out.won = true;
        if ((await store.consume('token', 'consumed', process.pid)).result === 'consumed') out.consumed = true;
        out.ids.push(await store.append('log', { pid: process.pid, i }));
      }
      await store.close();
      process.stdout.write(JSON.stringify(out));
    `;
    const startAt = Date.now() + 1500;
    const run = (): Promise<{ won: boolean; consumed: boolean; ids: string[] }> =>
      new Promise((resolve, reject) => {
        const proc = spawn(process.execPath, ['--input-type=module', '-e', child, String(startAt)], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        proc.on('error', reject);
        proc.on('exit', (code) => (code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`child exited ${code}: ${stderr}`))));
      });
    const results = await Promise.all([run(), run(), run()]);

    expect(await store.incr('counter', 0)).toBe(300);
    expect(results.filter((r) => r.won)).toHaveLength(1);
    expect(results.filter((r) => r.consumed)).toHaveLength(1);
    const ids = results.flatMap((r) => r.ids);
    expect(new Set(ids).size).toBe(300);
    const logged = [];
    for (let after: string | undefined; ; ) {
      const page = await store.range('log', { after });
      if (page.length === 0) break;
      logged.push(...page);
      after = page.at(-1)?.id;
    }
    expect(logged.map((e) => e.id)).toEqual([...ids].sort());
  }, 30_000);
});
