/**
 * Which addresses an outbound request an admin can aim (a webhook, a connection's discovery, JWKS, token,
 * userinfo or metadata URL, an LDAP server) may reach. Without this, anyone allowed to create a webhook or a
 * connection could make this server call services inside the operator's network or the machine itself (SSRF):
 * cloud metadata endpoints, admin consoles, Redis.
 *
 * The policy refuses every non-global address (loopback, private, link-local, unique-local, carrier-grade
 * NAT, metadata…) unless an entry of the operator's allowlist (config `outbound.allow_private`) names the
 * host, the address or its range. It decides on resolved addresses; `outbound.ts` connects to exactly the
 * addresses it approved, so a DNS answer that changes between the check and the connection (rebinding)
 * changes nothing.
 */
import { lookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import net from 'node:net';

/** IPv4 ranges refused (RFC 6890 special-purpose registry, the non-global entries). */
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
  ['fc00::', 7], // unique local (RFC 4193), includes fd00::/8 (and AWS's metadata address fd00:ec2::254)
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

/** `[::1]` → `::1`, `fe80::1%eth0` → `fe80::1`, `Host.Example.` → `host.example`. */
function bareHost(hostname: string): string {
  return hostname.replace(/^\[|\]$/g, '').replace(/%.*$/, '').replace(/\.$/, '').toLowerCase();
}

/** True for loopback, private, link-local, unique-local, unspecified and other non-global addresses. */
export function isBlockedAddress(input: string): boolean {
  const address = bareHost(input);
  const version = net.isIP(address);
  if (version === 0) return true; // not an address: refuse rather than guess
  return blocked.check(address, version === 4 ? 'ipv4' : 'ipv6');
}

// ---------------------------------------------------------------------------------------------------------
// The allowlist: `outbound.allow_private`
// ---------------------------------------------------------------------------------------------------------

/**
 * One allowlist entry: a host name (`hooks.internal.example`, the name as written in URLs, whatever it
 * resolves to), an address (`10.1.2.3`, `fd00::5`), a range (`10.1.2.0/24`, `fd00:1::/64`); names and
 * addresses may name one port (`hooks.internal.example:8443`, `10.1.2.3:8443`, `[fd00::5]:8443`).
 */
type AllowEntry =
  | { kind: 'name'; name: string; port: number | undefined }
  | { kind: 'range'; list: net.BlockList; port: number | undefined };

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** Parses an allowlist entry; a string is the reason it is not one. */
export function parseAllowEntry(input: string): AllowEntry | string {
  const text = input.trim().toLowerCase();
  const list = new net.BlockList();
  const cidr = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (cidr) {
    const [, address = '', bits = ''] = cidr;
    const version = net.isIP(address);
    const prefix = Number(bits);
    if (version === 0 || prefix > (version === 4 ? 32 : 128)) return `"${input}" is not a valid address range (e.g. 10.1.2.0/24 or fd00::/8)`;
    list.addSubnet(address, prefix, version === 4 ? 'ipv4' : 'ipv6');
    return { kind: 'range', list, port: undefined };
  }
  let host = text;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  const withPort = /^([^:]+):([^:]*)$/.exec(text);
  if (bracketed || withPort) {
    const [, h = '', p] = (bracketed ?? withPort)!;
    host = h;
    if (p !== undefined) {
      port = parsePort(p);
      if (port === undefined) return `"${input}": the port must be a number from 1 to 65535`;
    }
  }
  const version = net.isIP(host);
  if (version !== 0) {
    list.addAddress(host, version === 4 ? 'ipv4' : 'ipv6');
    return { kind: 'range', list, port };
  }
  if (bracketed) return `"${input}" is not a valid IPv6 address`;
  const name = host.replace(/\.$/, '');
  if (!HOST_NAME.test(name)) return `"${input}" is not a host name, an address or an address range`;
  return { kind: 'name', name, port };
}

/** `::ffff:10.0.0.1` and `::ffff:a00:1` → `10.0.0.1`, so an IPv4 entry covers its IPv4-mapped form. */
function unmapped(address: string): string {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (dotted) return dotted[1]!;
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(address);
  if (!hex) return address;
  const hi = parseInt(hex[1]!, 16);
  const lo = parseInt(hex[2]!, 16);
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.');
}

function entryAllows(entry: AllowEntry, host: string, port: number, address: string): boolean {
  if (entry.port !== undefined && entry.port !== port) return false;
  if (entry.kind === 'name') return entry.name === host;
  const plain = unmapped(address);
  const version = net.isIP(plain);
  return version !== 0 && entry.list.check(plain, version === 4 ? 'ipv4' : 'ipv6');
}

// ---------------------------------------------------------------------------------------------------------
// The policy
// ---------------------------------------------------------------------------------------------------------

/** Resolves a host name to its addresses (default: the system resolver, as connections would use it). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

const systemResolver: Resolver = (hostname) => lookup(hostname, { all: true, verbatim: true });

interface OutboundPolicyOptions {
  /** Config `webhooks.block_private_addresses`: refuse non-global addresses. */
  blockPrivate: boolean;
  /** Config `outbound.allow_private`: hosts, addresses and ranges allowed although not global. */
  allowPrivate?: readonly string[] | undefined;
  /** For tests: answers instead of the system resolver. */
  resolve?: Resolver | undefined;
}

/** A refused destination: nothing was sent, no connection was opened. */
export class BlockedAddressError extends Error {
  override readonly name = 'BlockedAddressError';
  readonly code = 'ERR_BLOCKED_ADDRESS';
}

/** A host name that does not resolve (nothing was sent). `code` as Node's resolver sets it. */
export class UnresolvableHostError extends Error {
  override readonly name = 'UnresolvableHostError';
  readonly code: string;
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

const ALLOW_HINT = 'add it to outbound.allow_private if this server is meant to reach it';

export class OutboundPolicy {
  readonly blockPrivate: boolean;
  private readonly allow: AllowEntry[];
  private readonly resolver: Resolver;

  constructor(options: OutboundPolicyOptions) {
    this.blockPrivate = options.blockPrivate;
    this.resolver = options.resolve ?? systemResolver;
    this.allow = (options.allowPrivate ?? []).map((text) => {
      const entry = parseAllowEntry(text);
      if (typeof entry === 'string') throw new RangeError(`outbound.allow_private: ${entry}`);
      return entry;
    });
  }

  /** Whether an allowlist entry covers this destination (the operator trusts it explicitly). */
  allowlisted(hostname: string, port: number, address: string): boolean {
    const host = bareHost(hostname);
    return this.allow.some((entry) => entryAllows(entry, host, port, bareHost(address)));
  }

  /** Why `address` (which `hostname` resolved to) may not be connected to, or undefined when it may. */
  refusal(hostname: string, port: number, address: string): string | undefined {
    if (!this.blockPrivate || !isBlockedAddress(address) || this.allowlisted(hostname, port, address)) return undefined;
    const host = bareHost(hostname);
    const bare = bareHost(address);
    return bare === host || unmapped(bare) === host
      ? `${host} is a loopback, private or link-local address; ${ALLOW_HINT}`
      : `"${host}" resolves to ${bare}, a loopback, private or link-local address; ${ALLOW_HINT}`;
  }

  /**
   * Resolves `hostname` once and checks every address it has (one bad address refuses the host: a client
   * could pick any of them). Returns the approved addresses: connect to these, and only these.
   * Throws BlockedAddressError or UnresolvableHostError.
   */
  async resolve(hostname: string, port: number): Promise<LookupAddress[]> {
    const host = bareHost(hostname);
    const version = net.isIP(host);
    let addresses: LookupAddress[];
    if (version !== 0) {
      addresses = [{ address: host, family: version }];
    } else {
      try {
        addresses = await this.resolver(host);
      } catch (error) {
        const code = typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : 'ENOTFOUND';
        throw new UnresolvableHostError(`host "${host}" could not be resolved (${code})`, code, { cause: error });
      }
      if (addresses.length === 0) throw new UnresolvableHostError(`host "${host}" could not be resolved (no addresses)`, 'ENOTFOUND');
    }
    for (const { address } of addresses) {
      const refused = this.refusal(host, port, address);
      if (refused) throw new BlockedAddressError(`refused: ${refused}`);
    }
    return addresses;
  }

  /** The literal-address part of `resolve`, synchronously: for callers that cannot wait (socket factories). */
  refuseLiteral(hostname: string, port: number): BlockedAddressError | undefined {
    const host = bareHost(hostname);
    if (net.isIP(host) === 0) return undefined;
    const refused = this.refusal(host, port, host);
    return refused ? new BlockedAddressError(`refused: ${refused}`) : undefined;
  }
}
