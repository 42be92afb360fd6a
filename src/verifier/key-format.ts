import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * The API key format's pure half, shared by the server (src/keys/format.ts generates keys) and the verifier
 * library: `lt_<env>_<body><checksum>`, body 32 base62 characters, checksum 6 base62 characters of
 * CRC-32(prefix + body). A typo or a made-up key is refused without a store lookup or a network call.
 */
export const KEY_ENVIRONMENTS = ['live', 'test'] as const;
export type KeyEnvironment = (typeof KEY_ENVIRONMENTS)[number];

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const CHECKSUM_LENGTH = 6;
export const KEY_PATTERN = /^lt_(live|test)_([0-9A-Za-z]{38})$/;

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (IEEE) of an ASCII string (keys are ASCII; other characters are reduced to their low byte). */
export function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** A CRC-32 (< 2^32 < 62^6) in 6 base62 digits; plain number arithmetic (verify's hot path). */
export function checksum(prefixAndBody: string): string {
  let n = crc32(prefixAndBody);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = ALPHABET[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

export type ParsedKey = { ok: true; environment: KeyEnvironment; displayPrefix: string } | { ok: false };

/** Checks shape and checksum only (no store access). */
export function parseKey(key: string): ParsedKey {
  const match = KEY_PATTERN.exec(key);
  if (!match) return { ok: false };
  const prefixAndBody = key.slice(0, key.length - CHECKSUM_LENGTH);
  const expected = Buffer.from(checksum(prefixAndBody));
  const actual = Buffer.from(key.slice(-CHECKSUM_LENGTH));
  if (!timingSafeEqual(expected, actual)) return { ok: false };
  return { ok: true, environment: match[1] as KeyEnvironment, displayPrefix: key.slice(0, `lt_${match[1]}_`.length + 6) };
}

/** The stored form of a key: SHA-256, hex. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}
