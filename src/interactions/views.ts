import type { ProviderDeps } from '../oidc/index.ts';
import { errorPage, logoutPage, loggedOutPage } from '../../views/pages.ts';
import { pageContext } from '../http/page.ts';

/** oidc-provider's own HTML (errors, logout) rendered in our views. */
export const oidcViews: Pick<ProviderDeps, 'renderError' | 'logoutSource' | 'postLogoutSuccessSource'> = {
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = errorPage(pageContext(ctx), { error: String(out.error), description: out.error_description ? String(out.error_description) : undefined });
  },
  async logoutSource(ctx, form) {
    ctx.type = 'html';
    ctx.body = logoutPage(pageContext(ctx), { formHtml: form });
  },
  async postLogoutSuccessSource(ctx) {
    ctx.type = 'html';
    ctx.body = loggedOutPage(pageContext(ctx));
  },
};
