/**
 * Messages of the admin dashboard, one file per language in views/dashboard/i18n/ (the language is
 * chosen as for the sign-in pages). English is the reference: each other catalogue is typed
 * `Record<DashboardKey, string>`, so tsc refuses a language that misses a key or has one English lacks.
 */
import type { Lang } from '../i18n.ts';
import { en, type DashboardKey } from './i18n/en.ts';
import { ru } from './i18n/ru.ts';

export type { DashboardKey } from './i18n/en.ts';

const CATALOG: Record<Lang, Record<DashboardKey, string>> = { en, ru };

export type DashboardTranslate = (key: DashboardKey, vars?: Record<string, string | number>) => string;

export function dashboardTranslator(lang: Lang): DashboardTranslate {
  return (key, vars) => {
    const template = CATALOG[lang][key] ?? en[key];
    return vars ? template.replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name] ?? `{${name}}`)) : template;
  };
}

export function isDashboardKey(key: string): key is DashboardKey {
  return key in en;
}
