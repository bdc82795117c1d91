/**
 * A TLS listener's connections closed before their handshake settled, whose close is held back
 * (they stay open, and counted, for the server) while Deno keeps their sockets (see
 * DenoByteConn.handshake). The listener's close lets them all go: a server that closes must not
 * wait for silent peers, and no cap is left to count them against.
 */
export class HandshakeHolds {
  private readonly held = new Set<() => void>();
  private closed = false;

  /** Holds `release` until `drop` or `releaseAll`; false (nothing held) once the listener is closed: release now. */
  hold(release: () => void): boolean {
    if (this.closed) return false;
    this.held.add(release);
    return true;
  }

  drop(release: () => void): void {
    this.held.delete(release);
  }

  /** The listener closes: every held close is reported now (their sockets stay with Deno until their peers act). */
  releaseAll(): void {
    this.closed = true;
    const all = [...this.held];
    this.held.clear();
    for (const release of all) release();
  }
}
