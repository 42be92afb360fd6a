import { randomBytes } from 'node:crypto';
import { checksum, type KeyEnvironment } from '../verifier/key-format.ts';

/**
 * API key format, GitHub-token style: `lt_<env>_<body><checksum>`.
 *   body      32 base62 characters from 24 random bytes (≥ 190 bits of entropy)
 *   checksum  6 base62 characters of CRC-32(prefix + body): typos are refused without a store lookup and
 *             secret scanners can recognise a real key (`lt_(live|test)_[0-9A-Za-z]{38}`).
 * Keys are ≥ 160-bit random, so SHA-256 is the right storage hash (a slow hash buys nothing here).
 * Parsing and hashing live with the verifier library (src/verifier/key-format.ts), which checks keys too.
 */
export { crc32, parseKey, hashKey, hashesEqual, KEY_ENVIRONMENTS, KEY_PATTERN, type KeyEnvironment, type ParsedKey } from '../verifier/key-format.ts';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BODY_LENGTH = 32;

function base62(bytes: Buffer, length: number): string {
  let n = BigInt(`0x${bytes.toString('hex') || '0'}`);
  let out = '';
  while (out.length < length) {
    out = ALPHABET[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out;
}

export function generateKey(environment: KeyEnvironment): string {
  const prefixAndBody = `lt_${environment}_${base62(randomBytes(24), BODY_LENGTH)}`;
  return prefixAndBody + checksum(prefixAndBody);
}
