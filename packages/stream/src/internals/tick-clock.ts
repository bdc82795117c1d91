import type { Clock, Ticker } from '@skein/core';

/** A timeout fires at most this share of itself late... */
const LATE_SHARE = 0.1;
/** ...or this many ms late, whichever is more. */
const LATE_MS = 50;
/** A deadline may be reached up to two periods late, so the finest period is half of LATE_MS. */
const FINEST_MS = LATE_MS / 2;

/** How late a timeout of `timeoutMs` may fire by this clock's rule, never early: max(10 %, 50 ms) of it. */
export const lateness = (timeoutMs: number): number => Math.max(LATE_SHARE * timeoutMs, LATE_MS);

/**
 * Time counted in ticks, by a ticker whose period follows the shortest timeout in use: a
 * timeout fires within max(10 %, 50 ms) after its time and never before, with no timer and no
 * clock read per call.
 *
 * Deadlines are in ticked time (`elapsed`), not clock time: setting one reads no clock, and a
 * ticker running late (a stalled event loop) delays timeouts instead of firing them early, as
 * each tick counts one period however late it comes (replies that waited in the socket during
 * the stall are read before the calls they answer time out).
 *
 * The periods are `maxMs` (the `tickMs` option) and 25, 50, 100... ms below it. The next tick
 * may come at once and count a whole period, so a deadline is set one period further and is
 * reached up to two periods late: a timeout T needs a period of at most max(T / 20, 25 ms),
 * e.g. 25 ms up to 500 ms and 1 s for 20 s. The ticker speeds up at once when a timeout needs
 * it, and slows down again a `maxMs` after the last deadline that needed the faster pace.
 */
export class TickClock {
  /** Time counted by the ticks, in ms: never ahead of the clock. */
  elapsed = 0;
  /** The current period. */
  period: number;
  private readonly periods: number[] = [];
  /** The shortest timeout each period is fine enough for. */
  private readonly shortest: number[] = [];
  /** Per period: the ticked time until which a deadline may need it. */
  private readonly busyUntil: Float64Array;
  private readonly top: number;
  private level: number;
  private readonly usualTimeout: number;
  private readonly usualLevel: number;
  private lastTickAt: number;
  private ticker: Ticker | undefined;
  private held = false;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    maxMs: number,
    /** The timeout most deadlines use (a default): its period is found without a search. */
    usualTimeoutMs: number,
    private readonly onTick: (now: number) => void,
  ) {
    for (let p = FINEST_MS; p < maxMs; p *= 2) this.periods.push(p);
    this.periods.push(maxMs);
    for (const p of this.periods) this.shortest.push(p <= FINEST_MS ? 0 : (2 * p) / LATE_SHARE);
    this.top = this.periods.length - 1;
    this.busyUntil = new Float64Array(this.periods.length);
    this.usualTimeout = usualTimeoutMs;
    this.usualLevel = this.levelOf(usualTimeoutMs);
    this.level = this.top;
    this.period = this.periods[this.top]!;
    this.lastTickAt = clock.now();
    this.ticker = clock.every(this.period, this.tick);
  }

  /** The finest period this clock may tick at. */
  get finest(): number {
    return this.periods[0]!;
  }

  /**
   * The ticked time by which `timeoutMs` has surely passed, counted from now; speeds the ticker
   * up if this timeout needs a finer period.
   */
  deadline(timeoutMs: number): number {
    const level = timeoutMs === this.usualTimeout ? this.usualLevel : this.levelOf(timeoutMs);
    if (level < this.level) this.quicken(level);
    // One period more: the next tick may come at once, and counts a whole period.
    const at = this.elapsed + this.period + timeoutMs;
    if (level < this.top && at > this.busyUntil[level]!) this.busyUntil[level] = at;
    return at;
  }

  /**
   * Ticked time now, with the time since the last tick read off the clock (which `elapsed` leaves
   * out, up to a period): one clock read, for a rare path that must tell a sliver of a deadline
   * left from none, never for a call's own. Never ahead of the clock, as `elapsed`.
   */
  now(): number {
    return this.elapsed + Math.max(0, this.clock.now() - this.lastTickAt);
  }

  /** Whether the ticker keeps the process alive (off by default): on while something waits on it. */
  hold(on: boolean): void {
    if (this.held === on) return;
    this.held = on;
    if (on) this.ticker?.ref?.();
    else this.ticker?.unref?.();
  }

  stop(): void {
    this.stopped = true;
    this.ticker?.stop();
    this.ticker = undefined;
  }

  private readonly tick = (): void => {
    const now = this.clock.now();
    this.elapsed += this.period;
    this.lastTickAt = now;
    this.onTick(now);
    if (this.level < this.top) this.relax();
  };

  private levelOf(timeoutMs: number): number {
    let level = this.top;
    while (level > 0 && timeoutMs < this.shortest[level]!) level--;
    return level;
  }

  /**
   * A finer period, at once: the time since the last tick, which no tick will count now, is
   * counted here (one period at most, as a late tick would). In whole ms, the fraction dropped
   * (counted short, never ahead of the clock): `elapsed` and the deadlines and `acceptedAt`s made
   * from it go into per-call fields (Call's) that start as small integers, and the first fraction
   * stored there would change every call's shape and throw away the optimised code of the
   * client's per-call path (as the server's TickedTime, ticked-time.ts).
   */
  private quicken(level: number): void {
    const now = this.clock.now();
    this.elapsed += Math.floor(Math.min(Math.max(0, now - this.lastTickAt), this.period));
    this.lastTickAt = now;
    this.restart(level);
  }

  /** Back to a coarser period once no deadline has needed the current one for a while. */
  private relax(): void {
    const linger = this.periods[this.top]!;
    let level = this.level;
    while (level < this.top && this.busyUntil[level]! + linger <= this.elapsed) level++;
    // Right after a tick: the new ticker's first tick counts exactly the time it waited.
    if (level > this.level) this.restart(level);
  }

  private restart(level: number): void {
    if (this.stopped) return;
    this.ticker?.stop();
    this.level = level;
    this.period = this.periods[level]!;
    this.ticker = this.clock.every(this.period, this.tick);
    if (this.held) this.ticker.ref?.();
  }
}
