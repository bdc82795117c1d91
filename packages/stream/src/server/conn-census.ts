import type { Logger } from '@skein/core';
import type { KindLimits, KindSettings, PeerCandidate } from './conn-kind.js';

/** A connection's kind as the server holds it now: its limits, and whether it waits for its credentials to make it a peer. */
export interface ConnRole {
  limits: KindLimits;
  /**
   * Accepted past the clients' cap on the chance that its credentials make it a peer: it may
   * greet, ping and present credentials, and is closed if they do not make it one; a call is
   * refused Overloaded (bare: unrun) and ends it.
   */
  probation: boolean;
}

/** The option whose cap refused a connection: each kind's own, named as the server's options spell it. */
export type KindCap = 'clients.maxConnections' | 'peers.maxConnections';

/**
 * How many connections of each kind are open, and who gets in: the caps of each kind apply on
 * their own, so clients at their cap do not keep peers out. A connection the server can tell only
 * later (by credentials) is let in past the clients' cap while peers have room, on probation.
 */
export class ConnCensus {
  clients = 0;
  peers = 0;
  /** On probation: they hold a peer's place until their credentials are judged. */
  probation = 0;

  constructor(
    private readonly kinds: KindSettings,
    /** The server has an `authenticate` hook: a client may become a peer later. */
    private readonly credentialsCount: boolean,
    private readonly logger: Logger,
  ) {}

  /** The role of a connection just accepted, or, when its kind is at its cap (refuse it), the cap's name. */
  admit(candidate: PeerCandidate | undefined): ConnRole | KindCap {
    const { client, peer, admit } = this.kinds;
    if (candidate !== undefined && this.isPeer(candidate)) {
      if (this.peers + this.probation >= peer.maxConnections) return 'peers.maxConnections';
      this.peers++;
      return { limits: peer, probation: false };
    }
    if (this.clients < client.maxConnections) {
      this.clients++;
      return { limits: client, probation: false };
    }
    // Refused as a client: that it could not wait on probation (peers full) is secondary.
    if (admit === undefined || !this.credentialsCount || this.peers + this.probation >= peer.maxConnections) return 'clients.maxConnections';
    this.probation++;
    return { limits: client, probation: true };
  }

  /**
   * The connection's credentials were accepted: true when it is (now or already) a peer. A client
   * admitted becomes one if peers have room; a connection on probation leaves it either way
   * only as a peer (the caller closes it when this says false).
   */
  promote(role: ConnRole, conn: PeerCandidate): boolean {
    const { peer } = this.kinds;
    if (role.limits === peer) return true;
    const admitted = this.isPeer(conn);
    if (role.probation) {
      // Not a peer: it stays counted on probation until the caller's close releases it.
      if (!admitted) return false;
      this.probation--;
      role.probation = false;
      this.peers++;
      role.limits = peer;
      return true;
    }
    if (!admitted || this.peers + this.probation >= peer.maxConnections) return false;
    this.clients--;
    this.peers++;
    role.limits = peer;
    return true;
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
}
