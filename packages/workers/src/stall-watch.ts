import { clearInterval, setInterval } from 'node:timers';
import type { WorkerSlot } from './worker-slot.js';

/** What the watch last saw of a worker that holds calls. */
interface Mark {
  /** Its count of messages taken (see messages-taken.ts). */
  taken: number;
  /** When that count was seen to move, or a ping was sent to a worker that had read everything. */
  since: number;
}

/**
 * Ends the workers that hold calls and leave a message from the pool unread for `boundMs`: their
 * thread is blocked (a handler that never yields) or deaf (a handler removed the port's
 * listeners). Either way the calls they hold would wait for good.
 *
 * Nothing is done per call: a coarse timer (a quarter of the bound) runs only while some worker
 * holds calls. At each tick a worker that has read all the pool posted is sent a ping (one small
 * message), so that there is always something to read while it holds calls; one whose count of
 * messages taken has not moved since a tick at least `boundMs` ago, with a message waiting all
 * that time, is stuck. A worker busy with short calls, or holding calls whose handlers wait
 * without blocking (on I/O, a timer), reads its messages between them, and is never ended: only
 * a stretch of `boundMs` without reading one is.
 */
export class StallWatch {
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly marks = new WeakMap<WorkerSlot, Mark>();
  private readonly tickNow = (): void => this.tick();

  constructor(
    /** 0: off. */
    private readonly boundMs: number,
    private readonly slots: readonly WorkerSlot[],
  ) {}

  /** A worker was given calls: watch, unless watching already. Called per batch, so it costs a test. */
  arm(): void {
    if (this.timer !== undefined || this.boundMs === 0) return;
    this.timer = setInterval(this.tickNow, Math.max(1, Math.floor(this.boundMs / 4)));
    // The pool's workers keep the process alive while it is open; this timer never should.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = performance.now();
    let holding = false;
    for (const slot of this.slots) {
      if (slot.state !== 'ready' || slot.inFlight === 0) {
        this.marks.delete(slot);
        continue;
      }
      holding = true;
      this.check(slot, now);
    }
    // Idle again: re-armed by the next batch, and every worker's marks start afresh then.
    if (!holding) this.stop();
  }

  private check(slot: WorkerSlot, now: number): void {
    const taken = slot.messagesTaken();
    const mark = this.marks.get(slot);
    if (taken === slot.posted) {
      slot.ping();
      this.marks.set(slot, { taken, since: now });
    } else if (mark === undefined || mark.taken !== taken) {
      this.marks.set(slot, { taken, since: now });
    } else if (now - mark.since >= this.boundMs) {
      // A message posted no later than `since` is still unread, and the worker read nothing since.
      slot.stalled(this.boundMs);
    }
  }
}
