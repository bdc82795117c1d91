import type { Call } from './call.js';

/**
 * The sliding window: at most `window` calls in flight; the rest wait in order in a bounded
 * FIFO. A call that settles while waiting (abort, timeout) is skipped when its turn comes.
 */
export class Throttler {
  inFlight = 0;
  private queue: (Call | undefined)[] = [];
  private head = 0;

  constructor(
    readonly window: number,
    readonly maxQueued: number,
  ) {}

  get queued(): number {
    return this.queue.length - this.head;
  }

  /** True when a new call may be sent now without overtaking a waiting one. */
  canSend(): boolean {
    return this.inFlight < this.window && this.queued === 0;
  }

  /** Queues a call; false when the queue is full. */
  enqueue(call: Call): boolean {
    if (this.queued >= this.maxQueued) return false;
    this.queue.push(call);
    return true;
  }

  /** The next waiting call that may be sent, if the window has room. */
  next(): Call | undefined {
    while (this.inFlight < this.window && this.head < this.queue.length) {
      const call = this.queue[this.head];
      this.queue[this.head++] = undefined;
      if (this.head > 1024 && this.head * 2 > this.queue.length) this.compact();
      if (call && !call.done) return call;
    }
    if (this.head === this.queue.length && this.head > 0) this.compact();
    return undefined;
  }

  /** Every waiting call, removing them (for timeouts and shutdown). */
  *waiting(): IterableIterator<Call> {
    for (let i = this.head; i < this.queue.length; i++) {
      const c = this.queue[i];
      if (c && !c.done) yield c;
    }
  }

  drain(): Call[] {
    const out = [...this.waiting()];
    this.queue = [];
    this.head = 0;
    return out;
  }

  private compact(): void {
    this.queue = this.queue.slice(this.head);
    this.head = 0;
  }
}
