import type { Call } from './call.js';
import { WaitingLine } from '../internals/waiting-line.js';

/**
 * The sliding window: at most `window` calls in flight; the rest wait in order in a bounded
 * FIFO. A call that settles while waiting (abort, timeout) stops counting against `maxQueued`
 * at once (the stream tells `settled()`), and is skipped when its turn comes.
 */
export class Throttler {
  inFlight = 0;
  private readonly line = new WaitingLine<Call>();
  /**
   * What `canSend` and `next` keep `inFlight` under: the window, or 0 while nothing may leave
   * until the hello's answer is in (`hold`). A field of its own, so that `window` (what pools
   * read for room) stays the window meanwhile; read in place of the window: no cost per call.
   */
  private sendable: number;
  private _holding = false;

  constructor(
    private _window: number,
    readonly maxQueued: number,
  ) {
    this.sendable = _window;
  }

  /** The calls sent at once: the client's `window`, or less once the server said its cap (`narrow`). */
  get window(): number {
    return this._window;
  }

  /**
   * The server handles at most `cap` calls at once on this connection: the window shrinks to it
   * (never grows). Calls already sent stay; the next waits until fewer than `cap` are out.
   */
  narrow(cap: number | undefined): void {
    if (cap !== undefined && cap < this._window) this._window = cap;
    if (!this._holding) this.sendable = this._window;
  }

  /** Nothing more leaves until `release`: new calls wait in the line, in order. */
  hold(): void {
    this._holding = true;
    this.sendable = 0;
  }

  /** Calls leave the line again as the window has room (the caller pumps). */
  release(): void {
    this._holding = false;
    this.sendable = this._window;
  }

  /** Held (`hold`): calls in the line wait for the hello's answer, not (only) for the window. */
  get holding(): boolean {
    return this._holding;
  }

  /** Calls waiting, settled ones not counted. */
  get queued(): number {
    return this.line.size;
  }

  /** True when a new call may be sent now without overtaking a waiting one. */
  canSend(): boolean {
    return this.inFlight < this.sendable && this.line.size === 0;
  }

  /**
   * True when no more calls may wait. While held, the first calls in the line, as many as the
   * window has room for, wait for the answer only: sent at once but for the hold, they do not
   * count against `maxQueued`. Read only for a call that cannot be sent now.
   */
  full(): boolean {
    const waiting = this._holding ? this.line.size - Math.max(0, this._window - this.inFlight) : this.line.size;
    return waiting >= this.maxQueued;
  }

  /** Queues a call; the caller checked `full()`. */
  enqueue(call: Call): void {
    this.line.push(call);
  }

  /** A waiting call settled (aborted, timed out) before its turn. */
  settled(): void {
    this.line.settled();
  }

  /** The next waiting call that may be sent, if the window has room. */
  next(): Call | undefined {
    return this.inFlight < this.sendable ? this.line.shift() : undefined;
  }

  /** Puts `calls` (oldest first) in front of the line: they were accepted before any waiting there. */
  putFirst(calls: readonly Call[]): void {
    for (let i = calls.length - 1; i >= 0; i--) this.line.unshift(calls[i]!);
  }

  /** Takes every waiting call out (for shutdown). */
  drain(): Call[] {
    return this.line.drain();
  }
}
