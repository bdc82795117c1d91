import { afterMacrotask } from './after-macrotask.js';
import { appendChunk } from './chunk-queue.js';
import type { Slab } from './slab.js';
import { SlabRun } from './slab-run.js';
import { RunEnds, type RunEnder } from './run-ends.js';

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
 * It is its slab run (a subclass, not a field): one object per connection, not two
 * (docs/benchmarks.md, "Memory").
 */
export class RunBatch extends SlabRun implements RunEnder {
  /**
   * Queued chunks, oldest first; bytes copied since the last `seal` are not cut onto them yet.
   * Made at the first add after a take: a connection between batches holds no array.
   */
  private chunks: Uint8Array[] | undefined;
  private readonly owner: BatchOwner;
  private due = Due.Idle;

  /**
   * `copyBelow`: parts shorter than this are copied. A transport keeps it at SMALL_PART or more,
   * which FrameConn.write promises to copy. `flush`: the owner, whose `flush()` runs at the end
   * of each run (an object with the method costs no closure per connection), or that function;
   * left out, the batch is its own owner (a subclass with a `flush()`: one object, not two).
   */
  constructor(slab: Slab, private readonly copyBelow: number, flush?: BatchOwner | (() => void)) {
    super(slab);
    this.owner = flush === undefined ? (this as unknown as BatchOwner) : typeof flush === 'function' ? { flush } : flush;
  }

  /** Slab bytes reserved and not yet taken: 0 after a take, so an idle connection holds none. */
  get heldBytes(): number {
    return this.held;
  }

  /** Queues `part` (never empty); the owner's flush follows at the end of the run. */
  add(part: Uint8Array): void {
    const chunks = (this.chunks ??= []);
    if (part.length < this.copyBelow) {
      this.copy(part, chunks);
    } else {
      this.cut(chunks);
      chunks.push(part);
    }
    if (this.due === Due.Idle) {
      this.due = Due.RunEnd;
      runEnds.add(this);
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
    if (this.chunks !== undefined) this.cut(this.chunks);
    this.release();
  }

  /** Removes and returns everything queued, or undefined when nothing is. */
  takeAll(): Uint8Array[] | undefined {
    this.seal();
    const chunks = this.chunks;
    if (chunks === undefined || chunks.length === 0) return undefined;
    this.chunks = undefined;
    return chunks;
  }

  /**
   * Removes the first `ends[ends.length - 1]` bytes, as one list of chunks per stretch that ends
   * at each of `ends` (ascending offsets into the queue): the messages of a batch.
   */
  takeSplit(ends: readonly number[]): Uint8Array[][] {
    this.seal();
    const chunks = (this.chunks ??= []);
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
    this.chunks = undefined;
    this.release();
  }

  /** Its run (or macrotask) is over: RunEnds calls it. */
  ended(): void {
    if (this.due === Due.Deferred) {
      this.due = Due.MacrotaskEnd;
      macrotaskEnds.add(this);
      return;
    }
    this.due = Due.Idle;
    this.owner.flush();
  }
}

// Wrapped: a browser's queueMicrotask throws "Illegal invocation" when called as another object's method.
const runEnds = new RunEnds((fn) => queueMicrotask(fn));
const macrotaskEnds = new RunEnds(afterMacrotask);

/** What a RunBatch flushes into at the end of a run. */
export interface BatchOwner {
  flush(): void;
}
