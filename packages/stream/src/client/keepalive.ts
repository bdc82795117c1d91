import type { Clock, Logger } from '@skein/core';

/** What a ClientStream's keepalive needs of it. */
export interface KeepaliveLink {
  readonly remote: string;
  /** Writes a ping under a new seq; returns the seq. */
  writePing(): number;
  /** The peer stopped answering: the stream closes with `err`, as when the connection is lost. */
  lost(err: Error): void;
  /** Our side has ended and the peer never ended its own: the connection is dropped. */
  drop(): void;
  /**
   * While bytes of ours wait to be sent (the connection congested): what the kernel has taken of
   * the connection's writes so far (FrameConn.sentBytes); else, or where the transport cannot
   * tell, undefined.
   */
  sending(): number | undefined;
  /**
   * What has arrived of the peer's bytes so far, whole frames or not (FrameConn.receivedBytes);
   * undefined where the transport cannot tell. Read once a tick while a ping is out.
   */
  receivedBytes(): number | undefined;
}

/**
 * A ClientStream's liveness, looked at on the stream's tick (no timer of its own): the ping out
 * (the keepalive's or `ping()`'s, one at a time), the verdict ping that asks whether a peer
 * answers the hello, and when a silent peer counts as gone. Out of the stream because none of
 * it runs per call: per frame the stream only sets a flag, and it asks here only about a frame
 * no call claims.
 */
export class Keepalive {
  /** The seq of the ping out; 0 when none is. */
  private seq = 0;
  private sentAt = 0;
  /** What the kernel had taken of our bytes (`KeepaliveLink.sending`) when the ping out was last seen waiting behind them; -1: not seen so. */
  private takenAt = -1;
  /** What had arrived of the peer's bytes (`KeepaliveLink.receivedBytes`) when the ping out was last seen waiting; -1: cannot tell. */
  private gotAt = -1;
  /** When a frame was last seen to have come: at the tick after it, not per frame. */
  private heardAt: number;
  /** A ping went to learn whether the peer answers the hello (`askVerdict`). */
  private verdictAsked = false;

  constructor(
    /** Ping when nothing was received for this long; 0: never by itself. */
    private readonly everyMs: number,
    /** How long a ping, or the peer's close after ours, may take. */
    private readonly timeoutMs: number,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly link: KeepaliveLink,
  ) {
    this.heardAt = clock.now();
  }

  /** Something came from the peer since the last tick. */
  heard(now: number): void {
    this.heardAt = now;
  }

  /** Pings now, unless a ping is out already (its answer will do). */
  ping(): void {
    if (this.seq === 0) this.send(this.clock.now());
  }

  /** True when `seq` answers the ping out, which is then answered. */
  answered(seq: number): boolean {
    if (seq !== this.seq) return false;
    this.seq = 0;
    return true;
  }

  /**
   * Sends a ping, once, unless one is out: a peer that will never answer the hello (it drops
   * what it does not know) answers the ping, which says so (`ClientHello.unanswered`), so a
   * held call or a waiting stream waits a round trip at most for a peer that answers pings,
   * keepalive on or off. A Skein server answers the hello first. Untracked (its pong is dropped as a late reply is):
   * liveness is the keepalive's business, and a caller that set keepaliveTimeoutMs to a bound of
   * its own (the CLI's `--timeout`) must not see the connection closed for a ping it never sent.
   */
  askVerdict(): void {
    if (this.verdictAsked || this.seq !== 0) return;
    this.verdictAsked = true;
    this.link.writePing();
  }

  /** Once a tick, while the stream is not closed; `endedAt`: when our side ended (-1: not yet). */
  tick(now: number, endedAt: number): void {
    // Our side ended (`close()`): a peer that has not closed its own within keepaliveTimeoutMs
    // (a hung process, a half-open socket) never will, and close() would wait for good with
    // keepalive off. The calls are all settled by then: the connection is dropped.
    if (endedAt >= 0) {
      if (now - endedAt < this.timeoutMs) return;
      this.logger.debug({ remote: this.link.remote }, `peer did not close its side within ${this.timeoutMs} ms of ours: dropping the connection`);
      this.link.drop();
      return;
    }
    // A ping out is checked whether keepalive is on or not: `ping()` sends one too.
    if (this.seq !== 0) {
      // Our own bytes still going out (a large upload on a slow link): the ping waits behind
      // them, and the peer cannot answer what it has not had. While the kernel takes them, the
      // ping's time starts again; a peer frozen or gone takes none once the buffers are full, and
      // is found as before.
      const taken = this.link.sending();
      if (taken !== undefined && taken > this.takenAt) {
        this.takenAt = taken;
        this.sentAt = now;
        return;
      }
      // The peer's bytes still coming (a large reply on a slow link): the answer waits behind
      // them, and a peer that sends is alive. Its time starts again while they come; a peer
      // frozen mid-frame sends none, and is found as before.
      const got = this.link.receivedBytes();
      if (got !== undefined && got > this.gotAt) {
        this.gotAt = got;
        this.sentAt = now;
        return;
      }
      if (now - this.sentAt < this.timeoutMs) return;
      const why = `peer ${this.link.remote} did not answer a ping within ${this.timeoutMs} ms`;
      this.logger.warn({ remote: this.link.remote }, why);
      this.link.lost(new Error(why));
      return;
    }
    if (this.everyMs > 0 && now - this.heardAt >= this.everyMs) this.send(now);
  }

  private send(now: number): void {
    this.seq = this.link.writePing();
    this.sentAt = now;
    this.takenAt = this.link.sending() ?? -1;
    this.gotAt = this.link.receivedBytes() ?? -1;
  }
}
