import { RepeatedLine, type Clock, type Logger } from '@skein/core';
import type { KindLimits, KindSettings, PeerCandidate } from './conn-kind.js';
import { AddressCensus, type AddressCount } from './address-census.js';

/**
 * A connection's kind as the server holds it now: its limits, and whether it waits for its
 * credentials to make it a peer. One of three per server (ConnCensus), shared by the
 * connections that hold it and never changed: a connection that changes kind is given another
 * (an object per connection is 40 bytes, at 10,000 idle connections: docs/benchmarks.md, "Memory").
 */
export interface ConnRole {
  readonly limits: KindLimits;
  /**
   * Accepted past the clients' cap on the chance that it is a peer `peers.admit` could not tell
   * at accept: by its TLS certificate (known at its hello) or its credentials. It may greet, ping
   * and present credentials, and is closed once they show it is not one; a call is refused
   * Overloaded (bare: unrun) and ends it.
   */
  readonly probation: boolean;
  /** On probation: the clients' cap it was let in past, at which it is refused when it shows it is no peer. */
  readonly past?: ClientCap;
}

/** The clients' caps: over all addresses, and per address. */
export type ClientCap = 'clients.maxConnections' | 'clients.maxConnectionsPerAddress';

/** The option whose cap refused a connection: each kind's own, named as the server's options spell it. */
export type KindCap = ClientCap | 'peers.maxConnections' | 'peers.maxConnectionsPerAddress';

/** Where a peer is shown in: a place free, one made by closing a connection on probation, or the cap that keeps it out. */
type PeerPlace = 'free' | 'made' | 'peers.maxConnections' | 'peers.maxConnectionsPerAddress';

/**
 * How many connections of each kind are open, and who gets in: the caps of each kind apply on
 * their own, so clients at their cap do not keep peers out. A connection the server can tell only
 * later (by its certificate at its hello, since a transport hands a TLS connection over before
 * its handshake; or by credentials) is let in past the clients' cap while peers have room, on
 * probation: it holds a peer's place, so peers' room bounds how many wait, and the server's
 * Probations how long. A peer the server knows gets such a place back (`makeRoom`): the ones
 * waiting have proven nothing and run nothing, so strangers that crowd them cannot keep it out.
 * The same holds per remote address (`maxConnectionsPerAddress`, counted in `addresses`): one
 * on probation holds a peer's place of its address, and a peer from that address gets it back.
 */
export class ConnCensus {
  clients = 0;
  peers = 0;
  /** The line of `keptAsClient`: once per stretch, then a count per window (a per-event re-arm said it once per peer that left). */
  private readonly keptLine: RepeatedLine;
  /** The line of `keptAtAddress`, bounded the same way. */
  private readonly keptAtAddressLine: RepeatedLine;
  /** On probation: they hold a peer's place until their certificate or credentials are judged. */
  probation = 0;
  /** The roles a connection may hold (ConnRole): shared, not one per connection. */
  private readonly asClient: ConnRole;
  private readonly asPeer: ConnRole;
  private readonly onProbation: ConnRole;
  /** On probation past the clients' cap of its address (not the clients' cap over all). */
  private readonly onProbationAtAddress: ConnRole;
  /** Connections per remote address, by role: filled only when a kind has a per-address cap (the server passes no address otherwise). */
  readonly addresses = new AddressCensus();

  constructor(
    private readonly kinds: KindSettings,
    private readonly logger: Logger,
    /**
     * Closes (and releases here) the connection on probation that waited longest (of those from
     * `address`, when given), for a peer that needs its place; false when none waits.
     */
    private readonly makeRoom: (address?: string) => boolean,
    clock: Clock,
  ) {
    this.asClient = { limits: kinds.client, probation: false };
    this.asPeer = { limits: kinds.peer, probation: false };
    this.onProbation = { limits: kinds.client, probation: true, past: 'clients.maxConnections' };
    this.onProbationAtAddress = { limits: kinds.client, probation: true, past: 'clients.maxConnectionsPerAddress' };
    this.keptLine = new RepeatedLine(clock, (n) =>
      logger.warn({ 'peers.maxConnections': kinds.peer.maxConnections, kept: n }, `peers at their cap (peers.maxConnections): ${n === 1 ? '1 more connection' : `${n} more connections`} shown to be peers went on as clients since the last line`),
    );
    this.keptAtAddressLine = new RepeatedLine(clock, (n) =>
      logger.warn({ 'peers.maxConnectionsPerAddress': kinds.peer.maxConnectionsPerAddress, kept: n }, `peers from one address at their cap (peers.maxConnectionsPerAddress): ${n === 1 ? '1 more connection' : `${n} more connections`} shown to be peers went on as clients since the last line`),
    );
  }

  /**
   * The role of a connection just accepted, or, when its kind is at its cap (refuse it), the cap's
   * name. `full`: the server is at its own `maxConnections`, so that only a peer may come in, in
   * the place of a connection on probation. `mayProve`: it may still show it is a peer (its
   * certificate or credentials are to come), so past the clients' cap it may wait on probation.
   * `address`: where it came from (remote-host.ts), for the per-address caps; undefined when it
   * has none (a Unix socket) or no kind has such a cap.
   */
  admit(candidate: PeerCandidate | undefined, full: boolean, mayProve: boolean, address?: string): ConnRole | KindCap | 'maxConnections' {
    const { client, peer, admit } = this.kinds;
    if (candidate !== undefined && this.isPeer(candidate)) {
      // Peers at their own cap take no one's place: nobody is closed for a peer refused anyway.
      if (full && (this.peers >= peer.maxConnections || this.probation === 0)) return 'maxConnections';
      const place = this.peerPlace(address, full);
      if (place !== 'free' && place !== 'made') return full && place === 'peers.maxConnections' ? 'maxConnections' : place;
      return this.enter(this.asPeer, address);
    }
    if (full) return 'maxConnections';
    const at = this.addresses.get(address);
    const cap: ClientCap | undefined = this.clients >= client.maxConnections ? 'clients.maxConnections' : at.clients >= client.maxConnectionsPerAddress ? 'clients.maxConnectionsPerAddress' : undefined;
    if (cap === undefined) return this.enter(this.asClient, address);
    // Refused as a client: that it could not wait on probation (nothing to come, peers full) is secondary.
    if (admit === undefined || !mayProve || this.peers + this.probation >= peer.maxConnections) return cap;
    if (at.peers + at.probation >= peer.maxConnectionsPerAddress) return cap;
    return this.enter(cap === 'clients.maxConnections' ? this.onProbation : this.onProbationAtAddress, address);
  }

  /** Counts a connection admitted in `role`, and gives the role. */
  private enter(role: ConnRole, address: string | undefined): ConnRole {
    const count = countOf(role, this.kinds.peer);
    this[count]++;
    this.addresses.add(address, count);
    return role;
  }

  /**
   * The connection showed more of itself (its certificate at the hello, or accepted credentials):
   * the peer's role when it is (now or already) a peer, which the caller gives it in place of
   * `role`; undefined when not. A client admitted becomes one if peers have room; a connection on
   * probation leaves it only as a peer (the caller decides whether it waits on or goes when this
   * says undefined).
   */
  promote(role: ConnRole, conn: PeerCandidate, address?: string): ConnRole | undefined {
    const { peer } = this.kinds;
    if (role.limits === peer) return this.asPeer;
    const admitted = this.isPeer(conn);
    if (role.probation) {
      // Not a peer: it stays counted on probation until the caller's close releases it.
      if (!admitted) return undefined;
      // It held a peer's place (of the server's and of its address's): it keeps it.
      this.probation--;
      this.peers++;
      this.addresses.move(address, 'probation', 'peers');
      return this.asPeer;
    }
    if (!admitted) return undefined;
    const place = this.peerPlace(address, false);
    if (place !== 'free' && place !== 'made') {
      this.keptAsClient(place);
      return undefined;
    }
    this.clients--;
    this.peers++;
    this.addresses.move(address, 'clients', 'peers');
    return this.asPeer;
  }

  /**
   * A place for one more peer, from `address`: free, or made by closing a connection on
   * probation (one from that address first, at its cap: that frees a place of the server's
   * too), or the cap that keeps it out. `full`: the server is at its own cap, so a place of the
   * server's must be made (the caller checked that one may be).
   */
  private peerPlace(address: string | undefined, full: boolean): PeerPlace {
    const { maxConnections, maxConnectionsPerAddress } = this.kinds.peer;
    // Peers at a cap of their own take no one's place: nobody is closed for a peer refused anyway.
    if (this.peers >= maxConnections) return 'peers.maxConnections';
    const at = this.addresses.get(address);
    if (at.peers + at.probation >= maxConnectionsPerAddress) {
      if (at.peers >= maxConnectionsPerAddress || at.probation === 0 || !this.makeRoom(address)) return 'peers.maxConnectionsPerAddress';
      return 'made';
    }
    if (full) return this.makeRoom() ? 'made' : 'peers.maxConnections';
    return this.peerRoom() ? 'free' : 'peers.maxConnections';
  }

  /**
   * A connection the application admits as a peer found every peer's place taken: it goes on as
   * the client it was, under the clients' limits. Said once for a stretch of them, then counted
   * once per window, as a refusal's line is: else nobody learns why a peer gets the clients'
   * caps and timeouts, and peers that come and go at the cap would each bring a line.
   */
  private keptAsClient(cap: 'peers.maxConnections' | 'peers.maxConnectionsPerAddress'): void {
    if (cap === 'peers.maxConnectionsPerAddress') return this.keptAtAddress();
    if (!this.keptLine.hit()) return;
    this.logger.warn(
      { 'peers.maxConnections': this.kinds.peer.maxConnections },
      "peers at their cap (peers.maxConnections): a connection shown to be a peer (by credentials or certificate) goes on as a client, under the clients' limits",
    );
  }

  /** As `keptAsClient`, at its address's cap: a line of its own, naming the option to raise. */
  private keptAtAddress(): void {
    if (!this.keptAtAddressLine.hit()) return;
    this.logger.warn(
      { 'peers.maxConnectionsPerAddress': this.kinds.peer.maxConnectionsPerAddress },
      "peers from one address at their cap (peers.maxConnectionsPerAddress): a connection shown to be a peer (by credentials or certificate) goes on as a client, under the clients' limits",
    );
  }

  /**
   * True when a peer the server knows may take a place: a free one, or one a connection on
   * probation holds (it is closed for it). Only peers themselves at their cap keep a peer out.
   */
  private peerRoom(): boolean {
    const max = this.kinds.peer.maxConnections;
    if (this.peers + this.probation < max) return true;
    if (this.peers >= max || this.probation === 0 || !this.makeRoom()) return false;
    return this.peers + this.probation < max;
  }

  /** The application's `peers.admit`; one that throws admits nobody (and is logged), as a peer must be proven. */
  private isPeer(conn: PeerCandidate): boolean {
    const admit = this.kinds.admit;
    if (admit === undefined) return false;
    try {
      return admit(conn) === true;
    } catch (err) {
      this.logger.error({ err, remote: conn.remote }, 'peers.admit threw: the connection is taken as a client');
      return false;
    }
  }

  /** The connection closed (from `address`, as it was admitted). */
  release(role: ConnRole, address?: string): void {
    const count = countOf(role, this.kinds.peer);
    this[count]--;
    this.addresses.remove(address, count);
  }

  /** The server closed: what `keptAsClient` counted since its last line is said now. */
  close(): void {
    this.keptLine.flush();
    this.keptAtAddressLine.flush();
  }
}

/** The count a connection in `role` is in. */
const countOf = (role: ConnRole, peer: KindLimits): AddressCount => (role.probation ? 'probation' : role.limits === peer ? 'peers' : 'clients');
