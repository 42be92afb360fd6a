/**
 * A small log API protected by `logtrace-auth/verifier` (see README.md, "Protecting the log API"):
 *
 *   GET /logs                     any credential holding read:logs (a service's client-credentials token)
 *   GET /projects/:id/logs        read:logs on that project or an ancestor (an API key, a person's token)
 *   POST /projects/:id/alerts     write:alerts on that project or an ancestor
 *
 * Environment: LOGTRACE_ISSUER (the auth server), LOGTRACE_AUDIENCE (its resource.audience),
 * LOGTRACE_VERIFIER_KEY (an API key with admin:projects on the organisation: local API-key verification),
 * PORT (default 4000), HOST (default 127.0.0.1).
 *
 *   npm run example:log-api
 */
import Koa from 'koa';
import Router from '@koa/router';
import { createVerifier, koaGuard, type Principal } from 'logtrace-auth/verifier';

const issuer = process.env.LOGTRACE_ISSUER ?? 'http://localhost:3000';
const audience = process.env.LOGTRACE_AUDIENCE ?? 'https://api.logtrace.local';
const credential = process.env.LOGTRACE_VERIFIER_KEY;

const verifier = createVerifier({ issuer, audience, ...(credential ? { apiKeys: { credential } } : {}) });
const app = new Koa();
const router = new Router();
const principalOf = (ctx: Koa.Context) => ctx.state.principal as Principal;

/** Refuses unless the principal holds `scope` on the project of the route (or one above it). */
const onProject = (scope: string): Koa.Middleware => async (ctx, next) => {
  const projectId = (ctx.params as Record<string, string>).id ?? '';
  if (!(await verifier.can(principalOf(ctx), scope, projectId))) {
    ctx.status = 403;
    ctx.set('WWW-Authenticate', `Bearer realm="logtrace", error="insufficient_scope", scope="${scope}"`);
    ctx.body = { error: 'insufficient_scope', error_description: `${scope} on project ${projectId} is needed` };
    return;
  }
  await next();
};

router.get('/logs', koaGuard(verifier, { scope: 'read:logs' }), (ctx) => {
  const principal = principalOf(ctx);
  ctx.body = { caller: { kind: principal.kind, subject: principal.subject }, logs: [{ at: new Date().toISOString(), line: 'hello from the example log API' }] };
});
router.get('/projects/:id/logs', koaGuard(verifier), onProject('read:logs'), (ctx) => {
  const principal = principalOf(ctx);
  ctx.body = { project: ctx.params.id, caller: { kind: principal.kind, subject: principal.subject }, logs: [] };
});
router.post('/projects/:id/alerts', koaGuard(verifier), onProject('write:alerts'), (ctx) => {
  ctx.status = 201;
  ctx.body = { project: ctx.params.id, created: true };
});

app.use(router.routes());
app.use(router.allowedMethods());

const port = Number(process.env.PORT ?? 4000);
const host = process.env.HOST ?? '127.0.0.1';
const server = app.listen(port, host, () => {
  console.error(`example log API on http://${host}:${port} (issuer ${issuer}${credential ? ', API keys verified locally' : ''})`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close();
    void verifier.close().then(() => process.exit(0));
  });
}
