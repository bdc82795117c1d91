import type { ClientCap } from './conn-census.js';

/** Why a connection on probation is sent away, by what showed it is no peer. */
export interface ProbationRefusals {
  /** Its hello offered no credentials, and its address or certificate does not make it a peer. */
  readonly hello: string;
  /** The server takes no credentials, and its address or certificate does not make it a peer. */
  readonly certificate: string;
  /** Its credentials were accepted, but `peers.admit` does not take their principal. */
  readonly credentials: string;
}

/** The words for one clients' cap: `atCap` says which clients are at it and names it. */
const refusals = (atCap: string, only: string): ProbationRefusals => ({
  hello: `${atCap}: ${only}, and nothing this connection showed makes it one (peers.admit took neither its address nor its certificate, and its hello offered no credentials)`,
  certificate: `${atCap}: ${only}, and peers.admit took neither this connection's address nor its certificate`,
  credentials: `${atCap}: ${only}, and peers.admit does not take this connection's credentials`,
});

/**
 * Why a connection let in on probation (past the clients' cap, in a peer's place: conn-census.ts)
 * is sent away, as the server answers the request that showed it is no peer (its hello, or its
 * credentials) before the connection ends: `rpc_overloaded:<words>`. Only a Skein client reads
 * them (a razor v1 client sends neither a hello nor credentials), and it gives them to its user,
 * who can tell from them what to change: the words name the option, never its value or a peer's.
 */
export const PROBATION_REFUSALS: ProbationRefusals = refusals('clients at their cap (clients.maxConnections)', 'only peers may connect now');

/** The same, for one let in past the clients' cap of its address: only the option named differs. */
export const PROBATION_REFUSALS_AT_ADDRESS: ProbationRefusals = refusals('clients from this address at their cap (clients.maxConnectionsPerAddress)', 'only peers may connect from it now');

/** The words for a connection on probation past `past` (ConnRole.past). */
export const probationRefusals = (past: ClientCap | undefined): ProbationRefusals => (past === 'clients.maxConnectionsPerAddress' ? PROBATION_REFUSALS_AT_ADDRESS : PROBATION_REFUSALS);
