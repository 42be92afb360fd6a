import type { Middleware } from 'koa';
import type { Config } from '../config/index.ts';

/**
 * OIDC Core §11: `offline_access` is honoured only with prompt=consent. First-party clients never show a
 * consent screen (their consent is recorded automatically), so for them a request for offline_access is
 * treated as carrying prompt=consent. Only GET /auth: PAR and POST bodies keep the strict rule.
 */
export function firstPartyOfflineAccess(config: Config, registered?: (clientId: string) => Promise<boolean>): Middleware {
  const firstParty = new Set(config.clients.filter((c) => c.first_party).map((c) => c.client_id));
  // Clients registered at run time (src/clients) that an owner made first-party, looked up as they are now.
  const isFirstParty = async (clientId: string) => firstParty.has(clientId) || ((await registered?.(clientId)) ?? false);
  return async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/auth') {
      const { client_id: clientId, scope, prompt } = ctx.query;
      if (typeof clientId === 'string' && typeof scope === 'string' && scope.split(' ').includes('offline_access') && (await isFirstParty(clientId))) {
        const prompts = typeof prompt === 'string' ? prompt.split(' ').filter(Boolean) : [];
        if (!prompts.includes('consent') && !prompts.includes('none')) {
          ctx.query = { ...ctx.query, prompt: [...prompts, 'consent'].join(' ') };
        }
      }
    }
    await next();
  };
}
