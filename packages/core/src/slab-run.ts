import { putBytes } from './bytes.js';
import type { Slab } from './slab.js';

/** How much slab a run takes at a time. */
const RESERVATION = 4096;

/**
 * One writer's run of slab memory: small parts are copied in back to back, and what was copied
 * is cut off as chunks (views) for a batch. A run reserves the slab a stretch at a time and, when
 * the next stretch follows on, simply grows, so a busy writer's parts stay contiguous however
 * writers interleave. `release` hands back the unused end and lets go of the block: a writer
 * between batches holds no memory.
 */
export class SlabRun {
  private memory: Uint8Array | undefined;
  /** [start, end) is copied and not yet cut; reserved up to `limit`. */
  private start = 0;
  private end = 0;
  private limit = 0;

  constructor(private readonly slab: Slab) {}

  /** Slab bytes reserved and not yet cut: 0 after `release`. */
  get held(): number {
    return this.limit - this.start;
  }

  /** Copies `part` in; bytes the run had to leave behind in a full block are cut onto `chunks`. */
  copy(part: Uint8Array, chunks: Uint8Array[]): void {
    // The common case, a part that fits the reservation, with no view of it.
    if (this.memory !== undefined && this.limit - this.end >= part.length) {
      putBytes(this.memory, this.end, part);
      this.end += part.length;
      return;
    }
    for (let from = 0; from < part.length; ) {
      if (this.memory === undefined || this.end === this.limit) this.reserve(part.length - from, chunks);
      const n = Math.min(this.limit - this.end, part.length - from);
      this.memory!.set(from === 0 && n === part.length ? part : part.subarray(from, from + n), this.end);
      this.end += n;
      from += n;
    }
  }

  /** Puts what was copied since the last cut onto `chunks`, as one view; the run goes on after it. */
  cut(chunks: Uint8Array[]): void {
    if (this.end === this.start) return;
    chunks.push(this.memory!.subarray(this.start, this.end));
    this.start = this.end;
  }

  /** Gives back the unused reservation and lets go of the block (after a `cut`; uncut bytes are dropped). */
  release(): void {
    if (this.memory === undefined) return;
    this.slab.release(this.memory, this.end, this.limit);
    this.memory = undefined;
    this.start = this.end = this.limit = 0;
  }

  /** Takes more slab: the run grows when the new stretch follows on, else it moves there. */
  private reserve(want: number, chunks: Uint8Array[]): void {
    const n = Math.min(this.slab.size, Math.max(RESERVATION, want));
    const at = this.slab.reserve(n);
    const block = this.slab.block;
    if (block === this.memory && at === this.limit) {
      this.limit += n;
      return;
    }
    this.cut(chunks);
    this.release();
    this.memory = block;
    this.start = this.end = at;
    this.limit = at + n;
  }
}
