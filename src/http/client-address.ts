import net from 'node:net';
import { buildAllowlist, ipAllowed, normalizeIp } from '../keys/ip.ts';

/**
 * Who sent a request, decided once from the socket peer and the `X-Forwarded-*` headers of the proxies
 * `trust_proxy` names. The chain is walked from our side outwards:
 *
 *   chain[0] = the socket peer, chain[1] = the right-most X-Forwarded-For entry, chain[2] the one left of it…
 *
 * - `false` / `0`: nobody is a proxy; the client is the peer and the headers are ignored.
 * - `N` hops (`true` = 1): chain[0] … chain[N-1] are trusted proxies, the client is chain[N] (the entry N
 *   from the right counting the peer as hop 1, Express's `trust proxy` N). A shorter chain means fewer
 *   proxies were passed than configured: its left-most entry is the client (what the outermost proxy saw).
 * - CIDRs: an entry inside one of them is a trusted proxy; the client is the first entry outside them.
 *
 * Entries left of the client are never read: that is where a client writes what it likes. An entry that is
 * not an address (garbled, empty, a name) stops the walk and the hop that handed it over is the client,
 * as nginx's realip module does; nothing here throws on input.
 */
export type TrustProxySetting = boolean | number | readonly string[];

interface ProxyTrust {
  /** Whether any forwarded header is ever read (Koa's and oidc-provider's `proxy`). */
  readonly enabled: boolean;
  /** Whether chain[index] (a valid, normalized address) is a proxy we trust. */
  trusts(address: string, index: number): boolean;
}

export function compileProxyTrust(setting: TrustProxySetting): ProxyTrust {
  if (setting === false || setting === 0) return { enabled: false, trusts: () => false };
  if (setting === true) return { enabled: true, trusts: (_address, index) => index < 1 };
  if (typeof setting === 'number') return { enabled: true, trusts: (_address, index) => index < setting };
  const list = buildAllowlist([...setting]);
  return { enabled: true, trusts: (address) => ipAllowed(list, address) };
}

export interface ForwardedView {
  /** The client's address, normalized (`::ffff:a.b.c.d` as `a.b.c.d`). */
  ip: string;
  /** How many hops (peer included) were trusted proxies: 0 when the peer itself is the client. */
  proxies: number;
  /** `http` or `https` as the outermost trusted proxy reports it; undefined when none did. */
  protocol?: 'http' | 'https';
  /** `host[:port]` as the outermost trusted proxy reports it; undefined when none did. */
  host?: string;
}

/** `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:443` → the address; else undefined. */
export function parseForwardedAddress(entry: string): string | undefined {
  let text = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text);
  if (bracketed) text = bracketed[1]!;
  else if (/^\d+\.\d+\.\d+\.\d+:\d{1,5}$/.test(text)) text = text.slice(0, text.lastIndexOf(':'));
  // Zone ids (fe80::1%eth0) name an interface of the proxy, not a client: not an address for us.
  if (text.includes('%')) return undefined;
  const address = normalizeIp(text);
  return net.isIP(address) ? address.toLowerCase() : undefined;
}

function headerText(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}

/**
 * Of a header each trusted proxy may have appended to, the value the outermost trusted one wrote: with
 * `proxies` trusted hops the `proxies`-th from the right (values further left are the client's own),
 * or the left-most when fewer were written (proxies that overwrite rather than append).
 */
function outermostValue(header: string | string[] | undefined, proxies: number): string | undefined {
  const values = headerText(header).split(',').map((v) => v.trim()).filter(Boolean);
  if (!values.length) return undefined;
  return values.length >= proxies ? values[values.length - proxies] : values[0];
}

const HOST = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

export function resolveForwarded(peer: string | undefined, headers: Record<string, string | string[] | undefined>, trust: ProxyTrust): ForwardedView {
  const peerAddress = (peer && parseForwardedAddress(peer)) || normalizeIp(peer ?? '');
  if (!trust.enabled || !net.isIP(peerAddress) || !trust.trusts(peerAddress, 0)) return { ip: peerAddress, proxies: 0 };

  const forwarded = headerText(headers['x-forwarded-for']).split(',');
  let client = peerAddress;
  let proxies = 0;
  // forwarded[forwarded.length - i] is chain[i]; a missing header splits into [''], which stops at once.
  for (let i = 1; i <= forwarded.length; i++) {
    const address = parseForwardedAddress(forwarded[forwarded.length - i]!);
    if (!address) break;
    client = address;
    proxies = i;
    if (!trust.trusts(address, i)) break;
  }
  const view: ForwardedView = { ip: client, proxies };
  if (proxies === 0) return view;
  const protocol = outermostValue(headers['x-forwarded-proto'], proxies)?.toLowerCase();
  if (protocol === 'http' || protocol === 'https') view.protocol = protocol;
  const host = outermostValue(headers['x-forwarded-host'], proxies);
  if (host && host.length <= 261 && HOST.test(host)) view.host = host;
  return view;
}
