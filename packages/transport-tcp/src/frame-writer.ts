import type { Slab } from './slab.js';

/**
 * Gathers the parts written in one synchronous run into one batch for the socket. Small parts
 * are copied into the slab, so a turn's worth of small frames becomes a few contiguous chunks;
 * large parts go by reference, never copied. The batch goes out at the end of the turn (a
 * microtask), or at `flush`.
 */
export class FrameWriter {
  private chunks: Uint8Array[] = [];
  /** The stretch of slab memory this writer is filling: chunks[] gets it when sealed. */
  private runMemory: Uint8Array | undefined;
  private runStart = 0;
  private runEnd = 0;
  private scheduled = false;

  constructor(
    private readonly slab: Slab,
    private readonly copyThreshold: number,
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
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.endOfTurn);
    }
  }

  flush(): void {
    this.seal();
    if (this.chunks.length === 0) return;
    const batch = this.chunks;
    this.chunks = [];
    this.send(batch);
  }

  /** Drops what is queued: the connection is gone. */
  discard(): void {
    this.chunks = [];
    this.runMemory = undefined;
  }

  private readonly endOfTurn = (): void => {
    this.scheduled = false;
    this.flush();
  };

  private copyIn(part: Uint8Array): void {
    for (let from = 0; from < part.length; ) {
      const memory = this.slab.memory;
      // Another connection may have used the slab since, or it may be a fresh block: the run
      // only grows while this writer's bytes stay contiguous.
      if (memory !== this.runMemory || this.slab.offset !== this.runEnd) this.startRun(memory, this.slab.offset);
      const n = this.slab.copy(part, from);
      this.runEnd += n;
      from += n;
    }
  }

  private startRun(memory: Uint8Array, at: number): void {
    this.seal();
    this.runMemory = memory;
    this.runStart = this.runEnd = at;
  }

  private seal(): void {
    if (this.runMemory !== undefined && this.runEnd > this.runStart) {
      this.chunks.push(this.runMemory.subarray(this.runStart, this.runEnd));
    }
    this.runMemory = undefined;
  }
}
