import type { HealthReply } from './health-schemas.js';
import type { HealthStatus } from './health-status.js';

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * One watcher of one service's health: what a health watch handler returns. Not an async
 * generator: a generator waiting for its next status would run its `return()` only once that
 * status came, which may be never, keeping the watcher listed for ever after its client went
 * away. Here `return()` (the dispatch calls it at once when the client cancels, passes its
 * deadline or its connection is lost) lets go of the watcher there and then.
 *
 * It holds one status not yet read, not a queue: a reader that falls behind a status that flaps
 * gets the latest one, never a backlog (as gRPC's servers do), so a watcher costs the same
 * whatever the application sets. A status equal to the last one handed out is no change and is
 * not sent again, even after it flapped away and back while the reader was behind.
 */
export class StatusWatch implements AsyncIterableIterator<HealthReply> {
  /** The status handed out last: what the reader knows. */
  private delivered: HealthStatus | undefined;
  /** A status no `next()` has taken yet, never the one delivered. */
  private pending: HealthStatus | undefined;
  /** The `next()` waiting for a status. */
  private waiting: ((r: IteratorResult<HealthReply>) => void) | undefined;
  /** No status comes after the pending one: the server is closing. */
  private ending = false;
  /** Over: released from its reporter, nothing more to hand out. */
  private over = false;

  constructor(
    readonly service: string,
    initial: HealthStatus,
    private readonly release: (w: StatusWatch) => void,
  ) {
    this.offer(initial);
  }

  /**
   * A new status of the service: handed to the waiting `next()`, else kept, replacing one not
   * read yet. One that flapped back to what the reader knows leaves nothing to read: no change.
   */
  offer(status: HealthStatus): void {
    if (this.over || this.ending || status === (this.pending ?? this.delivered)) return;
    const waiting = this.waiting;
    if (waiting === undefined) return void (this.pending = status === this.delivered ? undefined : status);
    this.waiting = undefined;
    this.delivered = status;
    waiting({ done: false, value: { status } });
  }

  /** No more statuses: the watch ends once the pending one (if any) is read. */
  end(): void {
    this.ending = true;
    if (this.waiting !== undefined) this.finish();
  }

  next(): Promise<IteratorResult<HealthReply>> {
    const status = this.pending;
    if (status !== undefined) {
      this.pending = undefined;
      this.delivered = status;
      return Promise.resolve({ done: false, value: { status } });
    }
    if (this.over || this.ending) {
      this.finish();
      return Promise.resolve(DONE);
    }
    // One reader, one `next()` at a time (as `for await` and the dispatch call it): a second would take the first's place.
    if (this.waiting !== undefined) return Promise.reject(new TypeError('StatusWatch: next() called again before the last one settled'));
    return new Promise((resolve) => (this.waiting = resolve));
  }

  /** The reader is gone: released now, and a waiting `next()` ends. */
  return(): Promise<IteratorResult<HealthReply>> {
    this.finish();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private finish(): void {
    if (this.over) return;
    this.over = true;
    this.pending = undefined;
    this.release(this);
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.(DONE);
  }
}
