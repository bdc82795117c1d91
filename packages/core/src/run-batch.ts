import { afterMacrotask } from './after-macrotask.js';
import { appendChunk } from './chunk-queue.js';
import type { Slab } from './slab.js';
import { SlabRun } from './slab-run.js';

/** Where a batch is in its life: nothing queued, or when its flush comes. */
const enum Due {
  /** No flush is scheduled: the next `add` schedules one. */
  Idle,
  /** At the end of the run (a microtask). */
  RunEnd,
  /** Asked to wait (`defer`): at the end of the run, the flush moves to the end of the macrotask. */
  Deferred,
  /** At the end of the macrotask. */
  MacrotaskEnd,
}

/**
 * What one connection writes in a synchronous run, gathered to leave together: the owner's
 * `flush` runs once the run is over (a microtask), or at the end of the macrotask when the
 * run's writer said it goes on writing (`defer`), whether or not it flushed before (a batch
 * limit). Short parts are copied into slab memory as they are written, so the caller may reuse
 * them at once and a run of small frames becomes one contiguous chunk; long parts are queued by
 * reference. Taking the chunks gives back the slab the batch did not fill: a connection between
 * batches holds none (a private slab per connection would make 10k idle ones hold 640 MiB).
 */
export class RunBatch {
  /** Queued chunks, oldest first; bytes copied since the last `seal` are not cut onto them yet. */
  private chunks: Uint8Array[] = [];
  private readonly run: SlabRun;
  private readonly owner: BatchOwner;
  private due = Due.Idle;
  /** The flush callback (end of run or of macrotask), made at the first add: a connection that never writes needs none. */
  private runEnded: (() => void) | undefined;

  /**
   * `copyBelow`: parts shorter than this are copied. A transport keeps it at SMALL_PART or more,
   * which FrameConn.write promises to copy. `flush`: the owner, whose `flush()` runs at the end
   * of each run (an object with the method costs no closure per connection), or that function.
   */
  constructor(slab: Slab, private readonly copyBelow: number, flush: BatchOwner | (() => void)) {
    this.run = new SlabRun(slab);
    this.owner = typeof flush === 'function' ? { flush } : flush;
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
    if (this.due === Due.Idle) {
      this.due = Due.RunEnd;
      queueMicrotask((this.runEnded ??= () => this.ended()));
    }
  }

  /**
   * The run's writer goes on writing at once, after an await (a stream item sent with credit
   * left): the flush waits past the end of this run, to the end of the macrotask, so items
   * written one await apart leave together instead of one socket write each. Bounded: the
   * owner's batch limits still send a long run in parts, and the macrotask ends as soon as the
   * writer waits for anything but a microtask (credit, I/O). No-op when nothing was added since
   * the last flush, so a `defer` never holds back a later run.
   */
  defer(): void {
    if (this.due === Due.RunEnd) this.due = Due.Deferred;
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

  private ended(): void {
    if (this.due === Due.Deferred) {
      this.due = Due.MacrotaskEnd;
      afterMacrotask(this.runEnded!);
      return;
    }
    this.due = Due.Idle;
    this.owner.flush();
  }
}

/** What a RunBatch flushes into at the end of a run. */
export interface BatchOwner {
  flush(): void;
}
