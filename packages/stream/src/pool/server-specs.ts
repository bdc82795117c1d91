import { canonicalIpv6, formatAddress, invalidArgument, parseAddress, type Address } from '@skein/core';
import { positive } from '../internals/checks.js';
import type { ServerSpec } from './failover-pool-options.js';
import { shownServer } from './shown-server.js';

/*
 * A FailoverPool's servers as a user names them (`ServerSpec`), checked and made canonical:
 * one address is one server however it is spelled.
 */

/**
 * A server as the pool keeps it: its canonical address (the member's key, what `servers()` and
 * membership events report), the address its connections dial, and a checked weight.
 */
export interface NormalServer {
  readonly address: string;
  readonly dialAddress: string;
  readonly weight: number;
}

/**
 * A server's key, as a FailoverPool keys its members: the canonical form of an address, so that
 * `tcp://h:1`, `ws://h:1` and `h:1` are one server, as are `wss://h:1` and `tls://h:1`: the
 * address without the transport its scheme names (a server advertises, and a discovery entry
 * holds, `h:1`). A host is folded to lower case: a DNS name (`API.example.com:1` is
 * `api.example.com:1`: DNS names are case-insensitive, RFC 4343); an IPv6 literal is written as
 * RFC 5952 has it (core's `canonicalIpv6`: `[FE80::1]:1`, `[fe80:0:0::1]:1` and
 * `[fe80:0:0:0:0:0:0:1]:1` are `[fe80::1]:1`, as a discovery entry may spell what the servers list
 * spells otherwise); a URL path and a socket path are kept as written (a path is case-sensitive).
 * Throws InvalidArgument on an invalid address.
 */
export function serverKey(address: string): string {
  return keyOf(parseAddress(address));
}

function keyOf(a: Address): string {
  if ('path' in a) return formatAddress(a);
  return formatAddress({ ...a, host: foldedHost(a.host), scheme: undefined });
}

/**
 * ASCII letters only, as DNS compares them (RFC 4343): `toLowerCase` would also change a non-ASCII
 * name's other letters (`İ`). An IPv6 literal in its RFC 5952 text (one address however it is
 * spelled, as a DNS name is one name in any case), but not its zone (`%eth0`, an interface's
 * name); a literal that is no IPv6 address only folded.
 */
const foldedHost = (host: string): string => host.replace(host.includes(':') ? /^[^%]*/ : /^.*/s, (name) => canonicalIpv6(name) ?? name.replace(/[A-Z]+/g, (s) => s.toLowerCase()));

/** A server's key (`serverKey`) and what its connections dial: the address as given, scheme and all, so that a transport can still refuse one written for another. */
export function placeOf(address: string): { address: string; dialAddress: string } {
  const a = parseAddress(address);
  return { address: keyOf(a), dialAddress: formatAddress(a) };
}

export function normalize(server: ServerSpec): NormalServer {
  const spec = typeof server === 'string' ? { address: server } : server;
  if (!spec || typeof spec.address !== 'string') throw invalidArgument(`not a server: ${JSON.stringify(server)}`);
  const w = spec.weight ?? 1;
  // Its error names the server as log lines do (no token); the name is made only for it.
  const weight = Number.isFinite(w) && w > 0 ? w : positive(w, `weight of ${shownServer(spec.address)}`);
  return { ...placeOf(spec.address), weight };
}

/** The servers normalized; one listed twice (in any spelling) is refused. */
export function uniqueServers(servers: readonly ServerSpec[]): NormalServer[] {
  const seen = new Set<string>();
  const out = servers.map(normalize);
  for (const s of out) {
    if (seen.has(s.address)) throw invalidArgument(`server ${shownServer(s.address)} is listed twice`);
    seen.add(s.address);
  }
  return out;
}
