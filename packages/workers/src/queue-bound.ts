import { ErrorCode, RepeatedLine } from '@skein/core';
import type { ServerRequest } from '@skein/stream';
import type { InputQueue, QueuedConn } from './input-queue.js';
import type { PoolSettings } from './pool-options.js';

/**
 * What the pool's input queue does once it holds `maxQueued` requests: first the calls nobody
 * waits for any more give up their places; then a request is refused `Overloaded`, unrun,
 * counted for `stats().overloaded`, and said in a warn line. Which one: a connection holding less
 * than its fair share of the queue (`maxQueued` over the connections with calls in it) is let
 * in, and a connection holding more than its share gives up a place; one at or past its share
 * gives up one of its own. `whenFull` picks the newest or the oldest of them. So connections
 * that keep the queue full are refused for what they hold past their share, not the others
 * (alone, a connection's share is the whole queue: as before). Out of the pool because no call's
 * path comes here: the pool only compares the queue's length with the bound per call.
 */
export class QueueBound {
  /** Calls refused for a full queue (stats). */
  overloaded = 0;
  /**
   * Queued calls cancelled, and connections closed, since the queue was last pruned of the calls
   * nobody waits for: a full queue prunes first.
   */
  private unwaited = 0;
  /** The "queue full" line: once per stretch of refusals, then their count once per window (see `refuse`). */
  private readonly fullLine: RepeatedLine;

  constructor(
    private readonly queue: InputQueue,
    private readonly settings: Pick<PoolSettings, 'maxQueued' | 'whenFull' | 'logger' | 'clock' | 'workers'>,
  ) {
    const { maxQueued, logger, clock } = settings;
    this.fullLine = new RepeatedLine(clock, (n) => logger.warn({ maxQueued, overloaded: n }, `worker pool queue full (maxQueued ${maxQueued}): ${n === 1 ? '1 more call' : `${n} more calls`} answered Overloaded since the last line`));
  }

  /**
   * A queued call may no longer be waited for (a call with a head was cancelled, a connection
   * closed). Counted whether it is queued or held (which is found at the turn's end): a queue
   * full in this very turn prunes first, and a count too many costs one prune that finds nothing.
   */
  mayBeUnwaited(): void {
    this.unwaited++;
  }

  /**
   * The queue is full (after this turn's batches went out) and `req` comes from `from`: makes
   * room, or refuses. False: `req` was refused and must not be queued.
   */
  makeRoom(req: ServerRequest, from: QueuedConn): boolean {
    const { maxQueued, whenFull } = this.settings;
    if (this.queue.length >= maxQueued && this.unwaited > 0) this.pruneUnwaited();
    if (this.queue.length < maxQueued) return true;
    this.refuse();
    const newest = whenFull === 'reject-new';
    const share = this.queue.shareOf(from, maxQueued);
    if (from.queued < share) {
      // Someone holds more than its share (the queue is full): it gives up a place.
      const out = this.queue.takeOver(share, newest);
      if (out !== undefined) {
        out.fail(ErrorCode.Overloaded);
        return true;
      }
    }
    if (newest) {
      req.fail(ErrorCode.Overloaded);
      return false;
    }
    // Its own oldest; with none (every connection holds one place, this one none), the queue's.
    (this.queue.takeOver(share, false, from) ?? this.queue.shift()!).fail(ErrorCode.Overloaded);
    return true;
  }

  /** At the pool's close: the refusals counted since the last line would be lost with it. */
  flush(): void {
    this.fullLine.flush();
  }

  /**
   * A call is refused for a full queue. Its caller reads a bare Overloaded, the same as a
   * server's connection or in-flight cap: a warn line tells the operator that it is this pool,
   * and `stats().overloaded` counts them. Bounded by time, not by runs of refusals: a small queue
   * that empties between batches would re-arm a per-run line once per batch under a flood.
   */
  private refuse(): void {
    this.overloaded++;
    if (!this.fullLine.hit()) return;
    const { maxQueued, whenFull, workers } = this.settings;
    this.settings.logger.warn({ maxQueued, whenFull, workers }, `worker pool queue full (maxQueued ${maxQueued}): answering Overloaded (whenFull: ${whenFull})`);
  }

  /**
   * Calls nobody waits for any more give up their places: before anyone is refused, and while a
   * closing pool waits for its queue to empty (it waits for no call nobody waits for).
   */
  pruneUnwaited(): void {
    this.unwaited = 0;
    let lost: ServerRequest[] | undefined;
    this.queue.prune((r) => {
      if (r.isAnswered) return false;
      if (!r.conn.signal.aborted) return true;
      (lost ??= []).push(r);
      return false;
    });
    // Answered once the queue is consistent: the last answer may end its connection.
    if (lost) for (const r of lost) r.fail(ErrorCode.Closed);
  }
}
