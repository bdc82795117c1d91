import { describe, expect, it } from 'vitest';
import { canonicalIpv6 } from '../src/index.js';

// A pool keyed `[::1]:5000` and `[0:0:0:0:0:0:0:1]:5000` as two servers: one address, two
// members. RFC 5952's text is one per address; these are its own examples and rules.
describe('canonicalIpv6', () => {
  it.each([
    ['0:0:0:0:0:0:0:1', '::1'],
    ['0::1', '::1'],
    ['::1', '::1'],
    ['::', '::'],
    ['0:0:0:0:0:0:0:0', '::'],
    // §4.1 leading zeros, §4.3 lower case
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    // §4.2.2: one zero group is no `::`
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:db8::1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    // §4.2.1: the longest run; §4.2.3: the first of equal runs
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['fe80:0:0:0:0:0:0:0', 'fe80::'],
    // §5: an IPv4-mapped address keeps (or gets) its dotted tail
    ['::ffff:127.0.0.1', '::ffff:127.0.0.1'],
    ['0:0:0:0:0:FFFF:7F00:1', '::ffff:127.0.0.1'],
    ['::ffff:7f00:1', '::ffff:127.0.0.1'],
    // another address with a dotted tail is hex, as any other
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ])('%s is %s', (given, canonical) => {
    expect(canonicalIpv6(given)).toBe(canonical);
  });

  it.each(['h', 'example.com', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::1', 'g::1', '::1.2.3', '::256.1.1.1', '::01.2.3.4', '1:2:3:4:5:6:7::8', ''])('%j is no IPv6 address: undefined', (text) => {
    expect(canonicalIpv6(text)).toBeUndefined();
  });
});
