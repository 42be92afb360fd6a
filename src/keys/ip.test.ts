import { describe, expect, it } from 'vitest';
import { addressBucket, buildAllowlist, ipAllowed, parseCidr } from './ip.ts';

describe('IP allowlists', () => {
  it.each([
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['192.168.1.7', '192.168.1.7/32'],
    ['2001:DB8::/32', '2001:db8::/32'],
    ['::1', '::1/128'],
    ['::ffff:10.1.2.3/32', '10.1.2.3/32'],
  ])('accepts %s as %s', (input, canonical) => {
    expect(parseCidr(input)).toEqual({ ok: true, cidr: canonical });
  });

  it.each(['10.0.0.0/33', '10.0.0/8', 'example.com', '10.0.0.0/8/1', '::/129', '10.0.0.0/x', ''])('refuses %s', (input) => {
    expect(parseCidr(input).ok).toBe(false);
  });

  it('matches addresses inside the ranges only, IPv4-mapped IPv6 included', () => {
    const list = buildAllowlist(['10.0.0.0/8', '2001:db8::/32', '203.0.113.5/32']);
    expect(ipAllowed(list, '10.20.30.40')).toBe(true);
    expect(ipAllowed(list, '::ffff:10.20.30.40')).toBe(true);
    expect(ipAllowed(list, '203.0.113.5')).toBe(true);
    expect(ipAllowed(list, '203.0.113.6')).toBe(false);
    expect(ipAllowed(list, '2001:db8:1::9')).toBe(true);
    expect(ipAllowed(list, '2001:db9::1')).toBe(false);
    expect(ipAllowed(list, 'not-an-ip')).toBe(false);
  });
});

describe('address buckets (per-address limits)', () => {
  it.each([
    ['203.0.113.9', '203.0.113.9'],
    ['::ffff:203.0.113.9', '203.0.113.9'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['64:ff9b::198.51.100.1', '64:ff9b:0:0::/64'],
    ['not-an-ip', 'not-an-ip'],
  ])('counts %s as %s', (address, bucket) => {
    expect(addressBucket(address)).toBe(bucket);
  });
});
