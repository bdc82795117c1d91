import { RunBatch, type BatchOwner, type Slab } from '@skein/core';

/** When a batch goes out before the end of its turn. */
export interface BatchLimits {
  /** Writes (parts) in a batch. */
  readonly writes: number;
  /** Bytes in a batch. */
  readonly bytes: number;
}

/** Where a FrameWriter's batches go: the connection (an object with the method costs no closure per connection). */
export interface BatchOutlet {
  sendBatch(chunks: Uint8Array[]): void;
}

/**
 * Gathers the parts written in one synchronous run into batches for the socket (core's
 * RunBatch: small parts copied into the slab, so a turn's worth of small frames becomes a few
 * contiguous chunks; large parts by reference, never copied). A batch goes out at the end of the
 * turn (a microtask), at `flush`, or as soon as it reaches one of its limits: a turn that answers
 * a whole window of requests sends its first answers while it computes the rest, so the peer
 * works on them in parallel instead of waiting for the turn to end. It is the RunBatch itself,
 * and its own owner: one object per connection, not two (docs/benchmarks.md, "Memory").
 */
export class FrameWriter extends RunBatch implements BatchOwner {
  /** Parts and bytes written since the last flush. */
  private writes = 0;
  private bytes = 0;

  constructor(
    slab: Slab,
    copyThreshold: number,
    private readonly limits: BatchLimits,
    private readonly outlet: BatchOutlet,
  ) {
    super(slab, copyThreshold);
  }

  write(part: Uint8Array): void {
    if (part.length === 0) return;
    this.add(part);
    this.bytes += part.length;
    if (++this.writes >= this.limits.writes || this.bytes >= this.limits.bytes) this.flush();
  }

  flush(): void {
    this.writes = this.bytes = 0;
    const chunks = this.takeAll();
    if (chunks !== undefined) this.outlet.sendBatch(chunks);
  }

  /** Drops what is queued: the connection is gone. */
  override discard(): void {
    super.discard();
    this.writes = this.bytes = 0;
  }
}
