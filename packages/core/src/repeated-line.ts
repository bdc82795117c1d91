import type { Clock, Ticker } from './runtime.js';

/** How long a stretch of a condition's occurrences is summed up in one line, by default. */
const REPEATED_LINE_MS = 10_000;

/**
 * One log line for a condition that may recur with every event while it lasts (a full queue
 * refusing each call, a cap refusing each connection), bounded by time, not by events: the
 * first occurrence is said whole by the caller (`hit` says true); the next ones are counted, and
 * each window brings one line with their count (`summary`), until a window passes with none:
 * then the next occurrence is said whole again. A condition that comes and goes between batches
 * thus writes at most one line per window, however many batches there are.
 *
 * `hit` reads no clock and starts no timer once a window is open: an increment per occurrence.
 * The ticker runs only while a window is open (systemClock's keeps no process alive).
 */
export class RepeatedLine {
  private count = 0;
  private ticker: Ticker | undefined;

  constructor(
    private readonly clock: Clock,
    /** Writes the line for `n` occurrences not said one by one in the window just ended. */
    private readonly summary: (n: number) => void,
    private readonly windowMs = REPEATED_LINE_MS,
  ) {}

  /** True while occurrences are being counted (a window is open). */
  get open(): boolean {
    return this.ticker !== undefined;
  }

  /** An occurrence. True: none in the last window, so the caller says it whole now; false: counted. */
  hit(): boolean {
    if (this.ticker !== undefined) {
      this.count++;
      return false;
    }
    this.ticker = this.clock.every(this.windowMs, this.tick);
    return true;
  }

  /**
   * Says what is counted now, and ends the window: for a close, so that no count is lost with it.
   * The next occurrence is said whole.
   */
  flush(): void {
    this.ticker?.stop();
    this.ticker = undefined;
    this.sayCount();
  }

  private readonly tick = (): void => {
    // A whole window with none: the condition is over; its next occurrence is news.
    if (this.count === 0) return this.flush();
    this.sayCount();
  };

  private sayCount(): void {
    const n = this.count;
    if (n === 0) return;
    this.count = 0;
    this.summary(n);
  }
}
