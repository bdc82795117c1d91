import { SlabRun, type Slab } from '@skein/core';

/** When a batch goes out before the end of its turn. */
export interface BatchLimits {
  /** Writes (parts) in a batch. */
  readonly writes: number;
  /** Bytes in a batch. */
  readonly bytes: number;
}

/**
 * Gathers the parts written in one synchronous run into batches for the socket. Small parts
 * are copied into the slab, so a turn's worth of small frames becomes a few contiguous chunks;
 * large parts go by reference, never copied. A batch goes out at the end of the turn (a
 * microtask), at `flush`, or as soon as it reaches one of its limits: a turn that answers a
 * whole window of requests sends its first answers while it computes the rest, so the peer
 * works on them in parallel instead of waiting for the turn to end.
 */
export class FrameWriter {
  private chunks: Uint8Array[] = [];
  private scheduled = false;
  /** Parts and bytes written since the last flush. */
  private writes = 0;
  private bytes = 0;

  /** The slab memory small parts are copied into. */
  private readonly run: SlabRun;

  constructor(
    slab: Slab,
    private readonly copyThreshold: number,
    private readonly limits: BatchLimits,
    private readonly send: (chunks: Uint8Array[]) => void,
  ) {
    this.run = new SlabRun(slab);
  }

  write(part: Uint8Array): void {
    if (part.length === 0) return;
    if (part.length < this.copyThreshold) {
      this.run.copy(part, this.chunks);
    } else {
      this.run.cut(this.chunks);
      this.chunks.push(part);
    }
    this.bytes += part.length;
    if (++this.writes >= this.limits.writes || this.bytes >= this.limits.bytes) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.endOfTurn);
    }
  }

  flush(): void {
    this.run.cut(this.chunks);
    this.run.release();
    this.writes = this.bytes = 0;
    if (this.chunks.length === 0) return;
    const batch = this.chunks;
    this.chunks = [];
    this.send(batch);
  }

  /** Drops what is queued: the connection is gone. */
  discard(): void {
    this.chunks = [];
    this.writes = this.bytes = 0;
    this.run.release();
  }

  private readonly endOfTurn = (): void => {
    this.scheduled = false;
    this.flush();
  };
}
