import { describe, expect, it } from 'vitest';
import { crc32, generateKey, hashKey, hashesEqual, parseKey, KEY_PATTERN } from './format.ts';

describe('API key format', () => {
  it('generates lt_live_/lt_test_ keys that match the published pattern and pass their checksum', () => {
    for (const env of ['live', 'test'] as const) {
      const key = generateKey(env);
      expect(key).toMatch(KEY_PATTERN);
      expect(key.startsWith(`lt_${env}_`)).toBe(true);
      expect(parseKey(key)).toEqual({ ok: true, environment: env, displayPrefix: key.slice(0, `lt_${env}_`.length + 6) });
    }
  });

  it('never repeats a key', () => {
    const keys = new Set(Array.from({ length: 2000 }, () => generateKey('live')));
    expect(keys.size).toBe(2000);
  });

  it('refuses a single-character typo by checksum', () => {
    const key = generateKey('live');
    for (let i = 8; i < key.length; i++) {
      const c = key[i] === 'a' ? 'b' : 'a';
      expect(parseKey(key.slice(0, i) + c + key.slice(i + 1))).toEqual({ ok: false });
    }
    expect(parseKey(key.replace('lt_live_', 'lt_test_'))).toEqual({ ok: false });
    expect(parseKey(`${key}x`)).toEqual({ ok: false });
    expect(parseKey('')).toEqual({ ok: false });
  });

  it('computes the standard CRC-32', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
  });

  it('hashes with SHA-256 and compares in constant time', () => {
    const key = generateKey('test');
    expect(hashKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashesEqual(hashKey(key), hashKey(key))).toBe(true);
    expect(hashesEqual(hashKey(key), hashKey(generateKey('test')))).toBe(false);
  });
});
