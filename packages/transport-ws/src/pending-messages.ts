import { FrameError } from '@skein/core';

/**
 * The memory that WebSocket messages still arriving hold, as ws holds them (its receiver's own
 * count: whole fragments, and the raw bytes not yet made into frames), over the connections of
 * one ws listener: the counterpart of the TCP transport's `maxPendingFrameBytes`. Without it,
 * each connection could hold up to `maxWsMessageBytes` of a message that a peer sends on, slowly
 * enough, never finishing it (the read timeout ends only a stalled one): many such peers held
 * that many times over, where TCP's listener holds its budget at most.
 */
export class PendingMessages {
  private held = 0;

  constructor(readonly max: number) {}

  /** Bytes held now, across the connections sharing the budget. */
  get inUse(): number {
    return this.held;
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
