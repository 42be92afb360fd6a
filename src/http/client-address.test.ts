import { describe, expect, it } from 'vitest';
import { compileProxyTrust, parseForwardedAddress, resolveForwarded, type TrustProxySetting } from './client-address.ts';
import { parseCidr } from '../keys/ip.ts';

const cidrs = (...list: string[]) => list.map((c) => (parseCidr(c) as { cidr: string }).cidr);
const resolve = (setting: TrustProxySetting, peer: string, xff?: string, extra: Record<string, string> = {}) =>
  resolveForwarded(peer, { ...(xff === undefined ? {} : { 'x-forwarded-for': xff }), ...extra }, compileProxyTrust(setting));

describe('client address from the socket peer and X-Forwarded-For', () => {
  it.each<[string, TrustProxySetting, string, string | undefined, string]>([
    ['no trust: the peer, whatever the header says', false, '10.0.0.5', '1.2.3.4', '10.0.0.5'],
    ['0 hops is no trust', 0, '10.0.0.5', '1.2.3.4', '10.0.0.5'],
    ['true = one proxy: the right-most entry', true, '10.0.0.5', '1.2.3.4, 198.51.100.7', '198.51.100.7'],
    ['1 hop: a forged left-most entry is never read', 1, '10.0.0.5', '1.2.3.4, 198.51.100.7', '198.51.100.7'],
    ['2 hops: the second entry from the right', 2, '10.0.0.5', '1.2.3.4, 198.51.100.7, 10.0.0.6', '198.51.100.7'],
    ['2 hops, one passed: the only entry', 2, '10.0.0.5', '198.51.100.7', '198.51.100.7'],
    ['a trusted peer without the header is the client', true, '10.0.0.5', undefined, '10.0.0.5'],
    ['CIDRs: skips trusted proxies from the right', cidrs('10.0.0.0/8'), '10.0.0.5', '1.2.3.4, 198.51.100.7, 10.0.0.6, 10.1.1.1', '198.51.100.7'],
    ['CIDRs: an untrusted peer is the client, its header ignored', cidrs('10.0.0.0/8'), '203.0.113.9', '10.0.0.1', '203.0.113.9'],
    ['CIDRs: all trusted, the left-most', cidrs('10.0.0.0/8'), '10.0.0.5', '10.9.9.9, 10.0.0.6', '10.9.9.9'],
    ['CIDRs: IPv6 proxies and clients', cidrs('2001:db8::/32'), '2001:db8::1', '1.2.3.4, 2001:db9::7, 2001:db8::2', '2001:db9::7'],
    ['IPv4-mapped peer is the IPv4 address', cidrs('10.0.0.0/8'), '::ffff:10.0.0.5', '198.51.100.7', '198.51.100.7'],
    ['ports and brackets are stripped', 2, '10.0.0.5', '[2001:db9::7]:443, 10.0.0.6:8080', '2001:db9::7'],
    ['a garbled entry stops the walk at the hop that handed it over', cidrs('10.0.0.0/8'), '10.0.0.5', '1.2.3.4, <script>, 10.0.0.6', '10.0.0.6'],
    ['an empty entry stops the walk', 3, '10.0.0.5', '1.2.3.4,, 198.51.100.7', '198.51.100.7'],
    ['a name is not an address', true, '10.0.0.5', 'evil.example', '10.0.0.5'],
  ])('%s', (_name, setting, peer, xff, expected) => {
    expect(resolve(setting, peer, xff).ip).toBe(expected);
  });

  it('never throws on hostile input', () => {
    for (const xff of ['', ',,,,', ' , ', '[', '[]:1', '1.2.3.4:99999999', 'x'.repeat(10_000), `${'1.1.1.1,'.repeat(2000)}`, '::ffff:', 'fe80::1%eth0']) {
      expect(() => resolve(cidrs('0.0.0.0/0', '::/0'), '10.0.0.5', xff)).not.toThrow();
    }
    expect(resolve(true, '10.0.0.5', 'fe80::1%eth0').ip).toBe('10.0.0.5');
  });

  it('reads addresses in the forms proxies write', () => {
    expect(parseForwardedAddress(' 198.51.100.7 ')).toBe('198.51.100.7');
    expect(parseForwardedAddress('198.51.100.7:5000')).toBe('198.51.100.7');
    expect(parseForwardedAddress('[2001:DB8::1]:443')).toBe('2001:db8::1');
    expect(parseForwardedAddress('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(parseForwardedAddress('unknown')).toBeUndefined();
    expect(parseForwardedAddress('2001:db8::1:443')).toBe('2001:db8::1:443');
  });
});

describe('forwarded scheme and host follow the same trust decision', () => {
  it('are ignored from an untrusted peer', () => {
    const view = resolve(cidrs('10.0.0.0/8'), '203.0.113.9', '1.2.3.4', { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' });
    expect(view).toEqual({ ip: '203.0.113.9', proxies: 0 });
    expect(resolve(false, '10.0.0.5', '1.2.3.4', { 'x-forwarded-proto': 'https' }).protocol).toBeUndefined();
  });

  it('take what the outermost trusted proxy wrote, not what the client prepended', () => {
    const view = resolve(true, '10.0.0.5', '1.2.3.4, 198.51.100.7', { 'x-forwarded-proto': 'http, https', 'x-forwarded-host': 'evil.example, auth.example.com' });
    expect(view).toEqual({ ip: '198.51.100.7', proxies: 1, protocol: 'https', host: 'auth.example.com' });
    // Two appending proxies: the outer one's value is second from the right.
    expect(resolve(2, '10.0.0.5', '198.51.100.7, 10.0.0.6', { 'x-forwarded-proto': 'https, http' }).protocol).toBe('https');
    // Proxies that overwrite leave one value.
    expect(resolve(2, '10.0.0.5', '198.51.100.7, 10.0.0.6', { 'x-forwarded-proto': 'https' }).protocol).toBe('https');
  });

  it('refuse values that are not a scheme or a host', () => {
    const view = resolve(true, '10.0.0.5', '198.51.100.7', { 'x-forwarded-proto': 'javascript', 'x-forwarded-host': 'a b/c@evil' });
    expect(view.protocol).toBeUndefined();
    expect(view.host).toBeUndefined();
    expect(resolve(true, '10.0.0.5', '198.51.100.7', { 'x-forwarded-host': 'auth.example.com:8443' }).host).toBe('auth.example.com:8443');
  });
});
