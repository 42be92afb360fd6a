/**
 * Messages of the server-rendered pages, one file per language (views/i18n/en.ts, ru.ts); the language
 * comes from Accept-Language. English is the reference: every other catalogue is typed
 * `Record<MessageKey, string>`, so tsc refuses one that misses a key or has a key English lacks.
 */
import { en, type MessageKey } from './i18n/en.ts';
import { ru } from './i18n/ru.ts';

export type { MessageKey } from './i18n/en.ts';

export const LANGUAGES = ['en', 'ru'] as const;
export type Lang = (typeof LANGUAGES)[number];

const CATALOG: Record<Lang, Record<MessageKey, string>> = { en, ru };

export type Translate = (key: MessageKey, vars?: Record<string, string | number>) => string;

export function translator(lang: Lang): Translate {
  return (key, vars) => {
    const template = CATALOG[lang][key] ?? en[key];
    return vars ? template.replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name] ?? `{${name}}`)) : template;
  };
}

export function hasMessage(key: string): key is MessageKey {
  return key in en;
}

/** Picks a language from an Accept-Language header (RFC 9110 §12.5.4 q-values), English by default. */
export function negotiateLanguage(header: string | undefined): Lang {
  if (!header) return 'en';
  const ranked = header
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { lang: tag.toLowerCase().split('-')[0] ?? '', q: q ? Number(q.slice(2)) : 1, index };
    })
    .filter((entry) => entry.q > 0 && !Number.isNaN(entry.q))
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const entry of ranked) {
    if ((LANGUAGES as readonly string[]).includes(entry.lang)) return entry.lang as Lang;
  }
  return 'en';
}
