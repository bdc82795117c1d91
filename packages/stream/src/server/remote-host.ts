import { canonicalIpv6 } from '@skein/core';

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOST_PORT = /^(?:\[([^\]]+)\]|([^:]+)):\d+$/;

/**
 * The IP address a connection came from, as the per-address caps count it (address-census.ts),
 * read from its `FrameConn.remote`: `host:port` or `[v6]:port` as core's formatAddress writes it
 * (transport-tcp on every runtime, transport-ws's `ws` server), or the bare address (uWS). One
 * host is one key however its listener and transport spell it: IPv6 in its one text
 * (canonicalIpv6, a zone left out), and an IPv4-mapped one (`::ffff:1.2.3.4`, an IPv4 peer of a
 * dual-stack listener) as the IPv4 address. Undefined for a Unix socket (`unix:/path`, `unix`) and
 * for anything that is no IP (`unknown`: a peer gone before it was named): such a connection is
 * counted by no per-address cap.
 */
export function remoteHost(remote: string): string | undefined {
  const m = HOST_PORT.exec(remote);
  const host = m === null ? remote : (m[1] ?? m[2]!);
  if (IPV4.test(host)) return host;
  const v6 = canonicalIpv6(host.replace(/%.*$/s, ''));
  if (v6 === undefined) return undefined;
  return v6.startsWith('::ffff:') && v6.includes('.') ? v6.slice('::ffff:'.length) : v6;
}
