/**
 * Messages of the admin dashboard, one file per language in views/dashboard/i18n/ (the language is
 * chosen as for the sign-in pages). English is the reference: each other catalogue is typed
 * `Record<DashKey, string>`, so tsc refuses a language that misses a key or has one English lacks.
 */
import type { Lang } from '../i18n.ts';
import { en, type DashKey } from './i18n/en.ts';
import { ru } from './i18n/ru.ts';

export type { DashKey } from './i18n/en.ts';

const CATALOG: Record<Lang, Record<DashKey, string>> = { en, ru };

export type DashTranslate = (key: DashKey, vars?: Record<string, string | number>) => string;

export function dashTranslator(lang: Lang): DashTranslate {
  return (key, vars) => {
    const template = CATALOG[lang][key] ?? en[key];
    return vars ? template.replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name] ?? `{${name}}`)) : template;
  };
}

export function isDashKey(key: string): key is DashKey {
  return key in en;
}
