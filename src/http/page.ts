import type { Context } from 'koa';
import { negotiateLanguage, translator, LANGUAGES, type Lang } from '../../views/i18n.ts';
import type { PageContext } from '../../views/pages.ts';

/**
 * The page's language: a remembered choice (`lt_lang` cookie) first, then Accept-Language. Shared by every
 * door that renders pages (the sign-in and consent pages, the dashboard, the error page).
 */
export function pageContext(ctx: Pick<Context, 'get' | 'cookies'>): PageContext {
  const chosen = ctx.cookies.get('lt_lang');
  const lang: Lang = chosen && (LANGUAGES as readonly string[]).includes(chosen) ? (chosen as Lang) : negotiateLanguage(ctx.get('accept-language'));
  return { lang, t: translator(lang) };
}
