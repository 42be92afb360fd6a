import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { openStore } from '../../src/store/index.ts';
import type { Store } from '../../src/store/index.ts';

/** A pino logger whose JSON lines are kept for assertions (level warn and up). */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

/** `ancestorsOf` over a child → parent map: ids from the root down to the project itself. */
export function ancestry(parents: Map<string, string>): (projectId: string) => Promise<string[]> {
  return async (projectId) => {
    const chain = [projectId];
    for (let parent = parents.get(projectId); parent !== undefined; parent = parents.get(parent)) chain.unshift(parent);
    return chain;
  };
}

export interface OpenedStore {
  store: Store;
  cleanup: () => Promise<void>;
}

/** A fresh, empty store: a new temp directory (embedded) or a new key prefix (redis). */
export async function openFreshStore(kind: 'embedded' | 'redis', redisUrl?: string): Promise<OpenedStore> {
  if (kind === 'redis') {
    if (!redisUrl) throw new Error('redis url required');
    const store = await openStore({ driver: 'redis', url: redisUrl, prefix: `t${randomBytes(6).toString('hex')}:` });
    return { store, cleanup: () => store.close() };
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'lt-webhooks-'));
  const store = await openStore({ driver: 'embedded', path: dir });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
