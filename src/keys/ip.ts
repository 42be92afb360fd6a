import net from 'node:net';
import { normalizeIp } from '../verifier/ip.ts';

/** The allowlist functions live with the verifier library (pure, shared): one meaning in both places. */
export { buildAllowlist, ipAllowed, normalizeIp, parseCidr, type CidrResult } from '../verifier/ip.ts';

/**
 * The unit a per-address limit counts: an IPv4 address, or an IPv6 address's /64 (one subscriber's
 * network: whoever holds one can use 2^64 addresses, so counting single IPv6 addresses limits nobody).
 * Anything else is returned as it is.
 */
export function addressBucket(address: string): string {
  const ip = normalizeIp(address);
  if (!net.isIPv6(ip)) return ip;
  let text = ip.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}
