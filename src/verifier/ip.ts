import net from 'node:net';

/**
 * IPv4/IPv6 CIDR allowlists on node's BlockList, shared by the server (/v1/keys/verify, trust_proxy) and the
 * verifier library, so an allowlist means exactly the same in both. `::ffff:a.b.c.d` is treated as the IPv4
 * address.
 */
export function normalizeIp(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

export type CidrResult = { ok: true; cidr: string } | { ok: false; reason: string };

/** Parses `10.0.0.0/8`, `2001:db8::/32` or a single address (/32, /128); returns the canonical form. */
export function parseCidr(input: string): CidrResult {
  const text = input.trim();
  const [address = '', prefixText, extra] = text.split('/');
  if (extra !== undefined) return { ok: false, reason: 'more than one "/"' };
  const version = net.isIP(normalizeIp(address));
  if (version === 0) return { ok: false, reason: `"${address}" is not an IPv4 or IPv6 address` };
  const max = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return { ok: false, reason: `prefix "${prefixText}" is not a number` };
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return { ok: false, reason: `prefix /${prefix} is longer than ${max}` };
  return { ok: true, cidr: `${normalizeIp(address).toLowerCase()}/${prefix}` };
}

export function buildAllowlist(cidrs: string[]): net.BlockList {
  const list = new net.BlockList();
  for (const cidr of cidrs) {
    const [address = '', prefix = ''] = cidr.split('/');
    list.addSubnet(address, Number(prefix), net.isIPv4(address) ? 'ipv4' : 'ipv6');
  }
  return list;
}

export function ipAllowed(list: net.BlockList, address: string): boolean {
  const ip = normalizeIp(address);
  const version = net.isIP(ip);
  if (version === 0) return false;
  return list.check(ip, version === 4 ? 'ipv4' : 'ipv6');
}
