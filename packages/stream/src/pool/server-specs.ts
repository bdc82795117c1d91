import { formatAddress, invalidArgument, parseAddress } from '@skein/core';
import { positive } from '../internals/checks.js';
import type { ServerSpec } from './failover-pool-options.js';

/*
 * A FailoverPool's servers as a user names them (`ServerSpec`), checked and made canonical:
 * one address is one server however it is spelled.
 */

/** A server as the pool keeps it: its canonical address and a checked weight. */
export interface NormalServer {
  readonly address: string;
  readonly weight: number;
}

/** The canonical form of an address, so that `tcp://h:1` and `h:1` are one server. */
export function canonical(address: string): string {
  return formatAddress(parseAddress(address));
}

export function normalize(server: ServerSpec): NormalServer {
  const spec = typeof server === 'string' ? { address: server } : server;
  if (!spec || typeof spec.address !== 'string') throw invalidArgument(`not a server: ${JSON.stringify(server)}`);
  const weight = positive(spec.weight ?? 1, `weight of ${spec.address}`);
  return { address: canonical(spec.address), weight };
}

/** The servers normalized; one listed twice (in any spelling) is refused. */
export function uniqueServers(servers: readonly ServerSpec[]): NormalServer[] {
  const seen = new Set<string>();
  const out = servers.map(normalize);
  for (const s of out) {
    if (seen.has(s.address)) throw invalidArgument(`server ${s.address} is listed twice`);
    seen.add(s.address);
  }
  return out;
}
