/** The three counts ConnCensus keeps, which a connection's role puts it in. */
export type AddressCount = 'clients' | 'peers' | 'probation';

/** Connections open from one address, by the count their role puts them in. */
export interface AtAddress {
  clients: number;
  peers: number;
  /** On probation: each holds a peer's place of its address, as it holds one of the server's. */
  probation: number;
}

/** What an address with no connection open holds: read, never written. */
const NONE: Readonly<AtAddress> = Object.freeze({ clients: 0, peers: 0, probation: 0 });

/**
 * Connections open per remote address (remote-host.ts), for the per-address caps
 * (`clients.maxConnectionsPerAddress`, `peers.maxConnectionsPerAddress`). An address's entry goes
 * when its last connection closes: one host that came and went holds nothing, and the map never
 * holds more entries than open connections. ConnCensus keeps it in step with its own counts, so
 * that a connection is added and released here exactly when it is there.
 */
export class AddressCensus {
  private readonly at = new Map<string, AtAddress>();

  /** What `address` holds now (undefined: an unnamed peer, a Unix socket's, which holds nothing). */
  get(address: string | undefined): Readonly<AtAddress> {
    return (address !== undefined && this.at.get(address)) || NONE;
  }

  /** Addresses with a connection open. */
  get size(): number {
    return this.at.size;
  }

  add(address: string | undefined, count: AddressCount): void {
    if (address === undefined) return;
    let entry = this.at.get(address);
    if (entry === undefined) this.at.set(address, (entry = { clients: 0, peers: 0, probation: 0 }));
    entry[count]++;
  }

  remove(address: string | undefined, count: AddressCount): void {
    const entry = address === undefined ? undefined : this.at.get(address);
    if (entry === undefined) return;
    entry[count]--;
    if (entry.clients + entry.peers + entry.probation <= 0) this.at.delete(address!);
  }

  /** A connection changed role (a client or one on probation became a peer): one place moves. */
  move(address: string | undefined, from: AddressCount, to: AddressCount): void {
    const entry = address === undefined ? undefined : this.at.get(address);
    if (entry === undefined) return;
    entry[from]--;
    entry[to]++;
  }
}
