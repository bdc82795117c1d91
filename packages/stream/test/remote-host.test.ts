import { describe, expect, it } from 'vitest';
import { remoteHost } from '../src/server/remote-host.js';

/*
 * The per-address caps count a connection under the IP address in its FrameConn.remote, however
 * a runtime or transport spells it: one host must be one key (or a host could pass its cap by
 * spelling), and a connection with no IP address is counted by none.
 */

describe('remoteHost', () => {
  it.each([
    // transport-tcp on Node, Bun and Deno, and the `ws` server: core's formatAddress
    ['127.0.0.1:5000', '127.0.0.1'],
    ['[::1]:5000', '::1'],
    ['[2001:DB8:0:0::1]:443', '2001:db8::1'],
    // an IPv4 peer of a dual-stack listener is the IPv4 host, in either spelling of the mapped address
    ['[::ffff:127.0.0.1]:5000', '127.0.0.1'],
    ['[::FFFF:7F00:1]:5000', '127.0.0.1'],
    // uWS gives the bare address, IPv6 written out in full
    ['127.0.0.1', '127.0.0.1'],
    ['0000:0000:0000:0000:0000:ffff:7f00:0001', '127.0.0.1'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
    // a zone names the interface, not another host
    ['[fe80::1%eth0]:5000', 'fe80::1'],
  ])('%s is counted as %s', (remote, host) => {
    expect(remoteHost(remote)).toBe(host);
  });

  it.each(['unix:/tmp/skein.sock', 'tls+unix:/tmp/skein.sock', 'unix', 'unknown', '', 'example.com:80', '256.0.0.1:80'])('%j has no address: counted by no per-address cap', (remote) => {
    expect(remoteHost(remote)).toBeUndefined();
  });
});
