import { fetchJson, type CachedDocument, type FetchLike } from './http.ts';

/**
 * The project tree as the verifier knows it, for `can` (a role or key on an ancestor counts): the server's
 * `GET /v1/projects` (every project the credential can see, each with its ancestry `path`), fetched at
 * start-up and revalidated with its ETag. Projects are never moved on the server, so a path once known
 * never changes: the cache can only be incomplete, never wrong. A project it does not know yet (created
 * since) costs at most one revalidation per cooldown (callers within the cooldown wait for the next one);
 * still unknown, it is a project nobody here may use.
 */
export class ProjectTree {
  private paths = new Map<string, readonly string[]>();
  private document: CachedDocument<Map<string, readonly string[]>> | undefined;
  private lastFetch = -Infinity;
  private loading: Promise<void> | undefined;
  private scheduled: Promise<void> | undefined;
  private readonly options: { baseUrl: string; credential: string; fetch: FetchLike; cooldownMs: number; timeoutMs: number };

  constructor(options: ProjectTree['options']) {
    this.options = options;
  }

  /** Ancestry of a project, root first, itself last; undefined when the credential cannot see it. */
  async pathOf(projectId: string): Promise<readonly string[] | undefined> {
    const known = this.paths.get(projectId);
    if (known) return known;
    // Within the cooldown, wait for the next revalidation (shared by every caller) rather than answer
    // "unknown" for a project created a moment ago.
    const wait = this.lastFetch + this.options.cooldownMs - Date.now();
    await (wait > 0 ? (this.scheduled ??= delay(wait).then(() => this.load()).finally(() => (this.scheduled = undefined))) : this.load()).catch(() => undefined);
    return this.paths.get(projectId);
  }

  load(): Promise<void> {
    this.loading ??= (async () => {
      this.lastFetch = Date.now();
      const { baseUrl, credential, fetch: fetchImpl, timeoutMs } = this.options;
      this.document = await fetchJson(fetchImpl, `${baseUrl}/v1/projects`, {
        headers: { authorization: `Bearer ${credential}` },
        previous: this.document,
        policy: { defaultTtlMs: 0, minTtlMs: 0, maxTtlMs: 0 },
        timeoutMs,
        parse: parseProjects,
      });
      this.paths = this.document.value;
    })().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }
}

function parseProjects(body: unknown): Map<string, readonly string[]> {
  const list = (body as { projects?: unknown } | null)?.projects;
  if (!Array.isArray(list)) throw new Error('GET /v1/projects: no projects array');
  const paths = new Map<string, readonly string[]>();
  for (const project of list as Array<{ id?: unknown; path?: unknown }>) {
    if (typeof project.id === 'string' && Array.isArray(project.path) && project.path.every((p) => typeof p === 'string') && project.path.at(-1) === project.id) {
      paths.set(project.id, Object.freeze([...(project.path as string[])]));
    }
  }
  return paths;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
