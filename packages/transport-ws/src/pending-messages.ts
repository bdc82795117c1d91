import { FrameError } from '@skein/core';

/**
 * The memory that WebSocket messages still arriving hold, as ws holds them (its receiver's own
 * count: whole fragments, and the raw bytes not yet made into frames), over the connections of
 * one ws listener: the counterpart of the TCP transport's `maxPendingFrameBytes`. Without it,
 * each connection could hold up to `maxWsMessageBytes` of a message that a peer sends on, slowly
 * enough, never finishing it (the read timeout ends only a stalled one): many such peers held
 * that many times over, where TCP's listener holds its budget at most.
 *
 * uWebSockets.js shows neither a message in progress nor a byte count of one, and keeps each
 * connection's receive buffer, emptied, from the first message it received in pieces until its
 * close: there a connection `reserve`s the most that buffer holds, for its whole life.
 */
export class PendingMessages {
  private held = 0;

  constructor(readonly max: number) {}

  /** Bytes held now, across the connections sharing the budget. */
  get inUse(): number {
    return this.held;
  }

  /**
   * Takes `bytes` for a connection that may fill them out of this side's sight (a uWS one, from
   * its upgrade to its close) when they fit in the budget; false, changing nothing, when not.
   * Give them back with `recharge(bytes, 0)`.
   */
  reserve(bytes: number): boolean {
    if (this.held + bytes > this.max) return false;
    this.held += bytes;
    return true;
  }

  /**
   * A connection held `was` and holds `now`. Throws a FrameError, changing nothing, when that
   * would take the listener over `max`: the caller's connection is dropped, no other.
   */
  recharge(was: number, now: number): void {
    const next = this.held + now - was;
    if (now > was && next > this.max) {
      throw new FrameError(`messages still arriving would hold ${next} bytes, over the maxPendingMessageBytes budget of ${this.max}`);
    }
    this.held = next;
  }
}
