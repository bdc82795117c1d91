import { RepeatedLine, type Clock, type Logger } from '@skein/core';
import type { KindLimits, KindSettings, PeerCandidate } from './conn-kind.js';

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
}

/** The option whose cap refused a connection: each kind's own, named as the server's options spell it. */
export type KindCap = 'clients.maxConnections' | 'peers.maxConnections';

/**
 * How many connections of each kind are open, and who gets in: the caps of each kind apply on
 * their own, so clients at their cap do not keep peers out. A connection the server can tell only
 * later (by its certificate at its hello, since a transport hands a TLS connection over before
 * its handshake; or by credentials) is let in past the clients' cap while peers have room, on
 * probation: it holds a peer's place, so peers' room bounds how many wait, and the server's
 * Probations how long. A peer the server knows gets such a place back (`makeRoom`): the ones
 * waiting have proven nothing and run nothing, so strangers that crowd them cannot keep it out.
 */
export class ConnCensus {
  clients = 0;
  peers = 0;
  /** The line of `keptAsClient`: once per stretch, then a count per window (a per-event re-arm said it once per peer that left). */
  private readonly keptLine: RepeatedLine;
  /** On probation: they hold a peer's place until their certificate or credentials are judged. */
  probation = 0;
  /** The three roles a connection may hold (ConnRole): shared, not one per connection. */
  private readonly asClient: ConnRole;
  private readonly asPeer: ConnRole;
  private readonly onProbation: ConnRole;

  constructor(
    private readonly kinds: KindSettings,
    private readonly logger: Logger,
    /**
     * Closes (and releases here) the connection on probation that waited longest, for a peer
     * that needs its place; false when none waits.
     */
    private readonly makeRoom: () => boolean,
    clock: Clock,
  ) {
    this.asClient = { limits: kinds.client, probation: false };
    this.asPeer = { limits: kinds.peer, probation: false };
    this.onProbation = { limits: kinds.client, probation: true };
    this.keptLine = new RepeatedLine(clock, (n) =>
      logger.warn({ 'peers.maxConnections': kinds.peer.maxConnections, kept: n }, `peers at their cap (peers.maxConnections): ${n === 1 ? '1 more connection' : `${n} more connections`} shown to be peers went on as clients since the last line`),
    );
  }

  /**
   * The role of a connection just accepted, or, when its kind is at its cap (refuse it), the cap's
   * name. `full`: the server is at its own `maxConnections`, so that only a peer may come in, in
   * the place of a connection on probation. `mayProve`: it may still show it is a peer (its
   * certificate or credentials are to come), so past the clients' cap it may wait on probation.
   */
  admit(candidate: PeerCandidate | undefined, full: boolean, mayProve: boolean): ConnRole | KindCap | 'maxConnections' {
    const { client, peer, admit } = this.kinds;
    if (candidate !== undefined && this.isPeer(candidate)) {
      // Peers at their own cap take no one's place: nobody is closed for a peer refused anyway.
      if (full && (this.peers >= peer.maxConnections || this.probation === 0 || !this.makeRoom())) return 'maxConnections';
      if (!this.peerRoom()) return 'peers.maxConnections';
      this.peers++;
      return this.asPeer;
    }
    if (full) return 'maxConnections';
    if (this.clients < client.maxConnections) {
      this.clients++;
      return this.asClient;
    }
    // Refused as a client: that it could not wait on probation (nothing to come, peers full) is secondary.
    if (admit === undefined || !mayProve || this.peers + this.probation >= peer.maxConnections) return 'clients.maxConnections';
    this.probation++;
    return this.onProbation;
  }

  /**
   * The connection showed more of itself (its certificate at the hello, or accepted credentials):
   * the peer's role when it is (now or already) a peer, which the caller gives it in place of
   * `role`; undefined when not. A client admitted becomes one if peers have room; a connection on
   * probation leaves it only as a peer (the caller decides whether it waits on or goes when this
   * says undefined).
   */
  promote(role: ConnRole, conn: PeerCandidate): ConnRole | undefined {
    const { peer } = this.kinds;
    if (role.limits === peer) return this.asPeer;
    const admitted = this.isPeer(conn);
    if (role.probation) {
      // Not a peer: it stays counted on probation until the caller's close releases it.
      if (!admitted) return undefined;
      this.probation--;
      this.peers++;
      return this.asPeer;
    }
    if (!admitted) return undefined;
    if (!this.peerRoom()) {
      this.keptAsClient();
      return undefined;
    }
    this.clients--;
    this.peers++;
    return this.asPeer;
  }

  /**
   * A connection the application admits as a peer found every peer's place taken: it goes on as
   * the client it was, under the clients' limits. Said once for a stretch of them, then counted
   * once per window, as a refusal's line is: else nobody learns why a peer gets the clients'
   * caps and timeouts, and peers that come and go at the cap would each bring a line.
   */
  private keptAsClient(): void {
    if (!this.keptLine.hit()) return;
    this.logger.warn(
      { 'peers.maxConnections': this.kinds.peer.maxConnections },
      "peers at their cap (peers.maxConnections): a connection shown to be a peer (by credentials or certificate) goes on as a client, under the clients' limits",
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

  /** The connection closed. */
  release(role: ConnRole): void {
    if (role.probation) this.probation--;
    else if (role.limits === this.kinds.peer) this.peers--;
    else this.clients--;
  }

  /** The server closed: what `keptAsClient` counted since its last line is said now. */
  close(): void {
    this.keptLine.flush();
  }
}
