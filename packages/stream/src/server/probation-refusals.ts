/**
 * Why a connection let in on probation (past the clients' cap, in a peer's place: conn-census.ts)
 * is sent away, as the server answers the request that showed it is no peer (its hello, or its
 * credentials) before the connection ends: `rpc_overloaded:<words>`. Only a Skein client reads
 * them (a razor v1 client sends neither a hello nor credentials), and it gives them to its user,
 * who can tell from them what to change: the words name the option, never its value or a peer's.
 */
export const PROBATION_REFUSALS = {
  /** Its hello offered no credentials, and its address or certificate does not make it a peer. */
  hello:
    'clients at their cap (clients.maxConnections): only peers may connect now, and nothing this connection showed makes it one (peers.admit took neither its address nor its certificate, and its hello offered no credentials)',
  /** The server takes no credentials, and its address or certificate does not make it a peer. */
  certificate: "clients at their cap (clients.maxConnections): only peers may connect now, and peers.admit took neither this connection's address nor its certificate",
  /** Its credentials were accepted, but `peers.admit` does not take their principal. */
  credentials: "clients at their cap (clients.maxConnections): only peers may connect now, and peers.admit does not take this connection's credentials",
} as const;
