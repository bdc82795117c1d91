import { FrameError } from '@skein/core';

/**
 * The memory that frames cut across chunks hold while the rest of them is on its way, shared by
 * the connections of one listener (or by those a transport connected). Assembly already grows
 * with the bytes that arrived, not with the length a header claims; this bounds what many
 * peers together can make the process hold by sending the start of large frames and stalling.
 */
export class PendingFrameBudget {
  private held = 0;

  constructor(readonly max: number) {}

  /** Bytes held now, across the connections sharing the budget. */
  get inUse(): number {
    return this.held;
  }

  /** Takes `n` bytes, or throws a FrameError and takes nothing when that would go over `max`: the caller's connection is closed, no other. */
  take(n: number): void {
    if (this.held + n > this.max) {
      throw new FrameError(
        `partly received frames would hold ${this.held + n} bytes, over the maxPendingFrameBytes budget of ${this.max}`,
      );
    }
    this.held += n;
  }

  give(n: number): void {
    this.held -= n;
  }
}
