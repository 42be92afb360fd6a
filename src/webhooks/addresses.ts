/**
 * Where a webhook may point. With `block_private_addresses` (servers reachable from an internal network),
 * a URL must be https and its host must not be, or resolve to, an address inside the operator's network
 * or the machine itself: otherwise anyone allowed to create a webhook could make this server POST to
 * internal services (SSRF).
 */
import { lookup } from 'node:dns/promises';
import net from 'node:net';

/** IPv4 ranges no webhook may reach (RFC 6890 special-purpose registry, the non-global entries). */
const BLOCKED_IPV4: Array<[string, number]> = [
  ['0.0.0.0', 8], // "this network", includes the unspecified address
  ['10.0.0.0', 8], // private (RFC 1918)
  ['100.64.0.0', 10], // shared address space, carrier-grade NAT (RFC 6598)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, includes cloud metadata endpoints (169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, includes broadcast 255.255.255.255
];

const BLOCKED_IPV6: Array<[string, number]> = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['fc00::', 7], // unique local (RFC 4193)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated, still routed by some stacks)
  ['ff00::', 8], // multicast
];

/** Prefixes that embed an IPv4 address in their last 32 bits (mapped, compatible, NAT64) or bits 16–48 (6to4). */
function embeddedIpv4Subnets(address: string, prefix: number): Array<[string, number]> {
  const [a = 0, b = 0, c = 0, d = 0] = address.split('.').map(Number);
  const hi = ((a << 8) | b).toString(16);
  const lo = ((c << 8) | d).toString(16);
  return [
    [`::ffff:${hi}:${lo}`, 96 + prefix],
    [`::${hi}:${lo}`, 96 + prefix],
    [`64:ff9b::${hi}:${lo}`, 96 + prefix],
    [`2002:${hi}:${lo}::`, 16 + prefix],
  ];
}

const blocked = new net.BlockList();
for (const [address, prefix] of BLOCKED_IPV4) {
  blocked.addSubnet(address, prefix, 'ipv4');
  for (const [v6, v6prefix] of embeddedIpv4Subnets(address, prefix)) blocked.addSubnet(v6, v6prefix, 'ipv6');
}
for (const [address, prefix] of BLOCKED_IPV6) blocked.addSubnet(address, prefix, 'ipv6');

/** True for loopback, private, link-local, unique-local, unspecified and other non-global addresses. */
export function isBlockedAddress(input: string): boolean {
  const address = input.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const version = net.isIP(address);
  if (version === 0) return true; // not an address: refuse rather than guess
  return blocked.check(address, version === 4 ? 'ipv4' : 'ipv6');
}

export type UrlCheck = { ok: true; url: string } | { ok: false; message: string };

const MAX_URL_LENGTH = 2048;

/** Checks a webhook URL; returns its normalised form. `blockPrivate` adds the https and address rules. */
export async function checkWebhookUrl(input: unknown, blockPrivate: boolean): Promise<UrlCheck> {
  if (typeof input !== 'string' || input.length === 0) return { ok: false, message: 'url is required' };
  if (input.length > MAX_URL_LENGTH) return { ok: false, message: `url must be at most ${MAX_URL_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return { ok: false, message: 'url is not a valid absolute URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, message: `url must use https or http, not ${url.protocol.replace(/:$/, '')}` };
  }
  if (url.username !== '' || url.password !== '') return { ok: false, message: 'url must not contain credentials' };
  if (blockPrivate) {
    if (url.protocol !== 'https:') return { ok: false, message: 'url must use https' };
    const refusal = await refuseHost(url.hostname);
    if (refusal) return { ok: false, message: refusal };
  }
  return { ok: true, url: url.href };
}

/**
 * Why a host may not be called (a message), or undefined when every address it resolves to is global.
 * Checked again before each delivery attempt, since DNS answers change.
 */
export async function refuseHost(hostname: string): Promise<string | undefined> {
  const host = hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (net.isIP(host) !== 0) {
    addresses = [host];
  } else {
    try {
      addresses = (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);
    } catch {
      return `url host "${host}" could not be resolved`;
    }
  }
  const bad = addresses.find(isBlockedAddress);
  if (bad === undefined) return undefined;
  return bad === host
    ? `url host ${host} is a loopback, private or link-local address`
    : `url host "${host}" resolves to ${bad}, a loopback, private or link-local address`;
}
