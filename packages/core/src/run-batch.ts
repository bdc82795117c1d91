import { appendChunk } from './chunk-queue.js';
import type { Slab } from './slab.js';
import { SlabRun } from './slab-run.js';

/**
 * What one connection writes in a synchronous run, gathered to leave together: the owner's
 * `flush` runs once the run is over (a microtask), whether or not it flushed before (a batch
 * limit). Short parts are copied into slab memory as they are written, so the caller may reuse
 * them at once and a run of small frames becomes one contiguous chunk; long parts are queued by
 * reference. Taking the chunks gives back the slab the batch did not fill: a connection between
 * batches holds none (a private slab per connection would make 10k idle ones hold 640 MiB).
 */
export class RunBatch {
  /** Queued chunks, oldest first; bytes copied since the last `seal` are not cut onto them yet. */
  private chunks: Uint8Array[] = [];
  private readonly run: SlabRun;
  private scheduled = false;

  /**
   * `copyBelow`: parts shorter than this are copied. A transport keeps it at SMALL_PART or more,
   * which FrameConn.write promises to copy.
   */
  constructor(
    slab: Slab,
    private readonly copyBelow: number,
    private readonly flush: () => void,
  ) {
    this.run = new SlabRun(slab);
  }

  /** Slab bytes reserved and not yet taken: 0 after a take, so an idle connection holds none. */
  get heldBytes(): number {
    return this.run.held;
  }

  /** Queues `part` (never empty); the owner's flush follows at the end of the run. */
  add(part: Uint8Array): void {
    if (part.length < this.copyBelow) {
      this.run.copy(part, this.chunks);
    } else {
      this.run.cut(this.chunks);
      this.chunks.push(part);
    }
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.runEnded);
    }
  }

  /** Cuts what was copied onto the queue and gives back the slab not used. */
  seal(): void {
    this.run.cut(this.chunks);
    this.run.release();
  }

  /** Removes and returns everything queued, or undefined when nothing is. */
  takeAll(): Uint8Array[] | undefined {
    this.seal();
    const chunks = this.chunks;
    if (chunks.length === 0) return undefined;
    this.chunks = [];
    return chunks;
  }

  /**
   * Removes the first `ends[ends.length - 1]` bytes, as one list of chunks per stretch that ends
   * at each of `ends` (ascending offsets into the queue): the messages of a batch.
   */
  takeSplit(ends: readonly number[]): Uint8Array[][] {
    this.seal();
    const chunks = this.chunks;
    const out: Uint8Array[][] = [];
    let i = 0;
    let off = 0;
    for (const end of ends) {
      const stretch: Uint8Array[] = [];
      while (off < end) {
        const c = chunks[i]!;
        const n = Math.min(c.length, end - off);
        if (n === c.length) i++;
        else chunks[i] = c.subarray(n);
        appendChunk(stretch, n === c.length ? c : c.subarray(0, n));
        off += n;
      }
      out.push(stretch);
    }
    // All taken is the usual case: keep the array rather than copy an empty tail.
    if (i === chunks.length) chunks.length = 0;
    else if (i > 0) this.chunks = chunks.slice(i);
    return out;
  }

  /** Drops everything queued (the connection is gone). */
  discard(): void {
    this.chunks = [];
    this.run.release();
  }

  private readonly runEnded = (): void => {
    this.scheduled = false;
    this.flush();
  };
}
