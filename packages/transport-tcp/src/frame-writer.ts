import type { Slab } from '@skein/core';

/** How much of the slab a writer takes at a time for its run of small parts. */
const RESERVATION = 4096;

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
  /** The run of slab memory this writer is filling: [runStart, runEnd) used, up to reservedEnd reserved. */
  private runMemory: Uint8Array | undefined;
  private runStart = 0;
  private runEnd = 0;
  private reservedEnd = 0;
  private scheduled = false;
  /** Parts and bytes written since the last flush. */
  private writes = 0;
  private bytes = 0;

  constructor(
    private readonly slab: Slab,
    private readonly copyThreshold: number,
    private readonly limits: BatchLimits,
    private readonly send: (chunks: Uint8Array[]) => void,
  ) {}

  write(part: Uint8Array): void {
    if (part.length === 0) return;
    if (part.length < this.copyThreshold) {
      this.copyIn(part);
    } else {
      this.seal();
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
    this.seal();
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
    this.runMemory = undefined;
  }

  private readonly endOfTurn = (): void => {
    this.scheduled = false;
    this.flush();
  };

  private copyIn(part: Uint8Array): void {
    for (let from = 0; from < part.length; ) {
      if (this.runMemory === undefined || this.runEnd === this.reservedEnd) this.reserve(part.length - from);
      const n = Math.min(this.reservedEnd - this.runEnd, part.length - from);
      this.runMemory!.set(from === 0 && n === part.length ? part : part.subarray(from, from + n), this.runEnd);
      this.runEnd += n;
      from += n;
    }
  }

  /** Takes more slab: it extends the run when it follows on, else the run is sealed and a new one starts. */
  private reserve(want: number): void {
    const n = Math.min(this.slab.size, Math.max(RESERVATION, want));
    const start = this.slab.reserve(n);
    const memory = this.slab.block;
    if (memory === this.runMemory && start === this.reservedEnd) {
      this.reservedEnd += n;
      return;
    }
    this.seal();
    this.runMemory = memory;
    this.runStart = this.runEnd = start;
    this.reservedEnd = start + n;
  }

  /** Ends the run: its bytes join the batch, and the unused end of its reservation goes back. */
  private seal(): void {
    if (this.runMemory === undefined) return;
    if (this.runEnd > this.runStart) this.chunks.push(this.runMemory.subarray(this.runStart, this.runEnd));
    this.slab.release(this.runMemory, this.runEnd, this.reservedEnd);
    this.runMemory = undefined;
  }
}
