// The identity a per-IP budget counts (src/plugins/rate-limit.ts clientKey): an IPv4 address as is,
// an IPv6 address by its /64 — whatever spelling it arrives in (compressed, zero-padded, upper
// case, with a zone, IPv4-mapped), since every spelling of one /64 must be one budget.
import { describe, expect, it } from 'vitest';
import { clientKey } from '../../src/plugins/rate-limit.js';

describe('clientKey', () => {
  it('an IPv4 address is its own key', () => {
    expect(clientKey('192.0.2.7')).toBe('192.0.2.7');
    expect(clientKey('192.0.2.7')).not.toBe(clientKey('192.0.2.8'));
  });

  it('IPv6 addresses in one /64 share a key, in every spelling', () => {
    const spellings = [
      '2001:db8:1:2::1', '2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:DB8:1:2::abcd', '2001:0db8:0001:0002:0000:0000:0000:0001',
      '2001:db8:1:2:0:0:0:7', 'fe80::1%eth0'.replace('fe80::1', '2001:db8:1:2::9'),
    ];
    const keys = new Set(spellings.map(clientKey));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toBe('2001:db8:1:2::/64');
  });

  it('the neighbouring /64 is another key', () => {
    expect(clientKey('2001:db8:1:3::1')).not.toBe(clientKey('2001:db8:1:2::1'));
    expect(clientKey('2001:db8:0:1::1')).not.toBe(clientKey('2001:db8:1::1'));
  });

  it('"::" in the first half, loopback and the unspecified address', () => {
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('::')).toBe('0:0:0:0::/64');
  });

  it('an IPv4-mapped IPv6 address is the IPv4 client', () => {
    expect(clientKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(clientKey('::FFFF:192.0.2.7')).toBe('192.0.2.7');
  });

  it('something that is not an address (no socket) is kept apart, never merged with a real one', () => {
    expect(clientKey('unknown')).toBe('unknown');
  });
});
