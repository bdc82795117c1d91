/**
 * Time as the server's tick counts it, for its verdicts on connections (the keepalive, the idle
 * and read timeouts): each tick adds the time since the one before, but one period (`tickMs`) at
 * most, however late it comes. After a stalled event loop the first tick runs before the loop
 * reads its sockets (timers come before I/O), so by the clock a client's answer, call or rest of
 * a frame waiting there would have been missing for the whole stall, and a live client would be
 * ended for the server's own stall. Counted this way, a stall delays the verdict instead of
 * bringing it early, as TickClock does for a client's deadlines.
 *
 * Told in whole ms (the clock's fraction is kept, and counted at the next tick): the connections
 * keep these stamps in fields that start as small integers, and the first fraction stored there
 * would change their shape a second or two into a server's life, throwing away the optimised
 * code of every function that reads a connection: the whole per-call path, compiled again while
 * it serves (docs/benchmarks.md, "the server's tick"). A ms is far below any of its verdicts.
 */
export class TickedTime {
  private ms = 0;
  /** `ms` in whole ms: an integer, which V8 keeps as a small one. */
  private whole = 0;
  private lastAt = -1;

  constructor(private readonly periodMs: number) {}

  /** The ticked time as of the last tick: for stamps taken between ticks, with no clock read. */
  get now(): number {
    return this.whole;
  }

  /** The ticked time at a tick whose clock reads `now`. The first tick counts nothing. */
  tick(now: number): number {
    if (this.lastAt >= 0) this.ms += Math.min(Math.max(now - this.lastAt, 0), this.periodMs);
    this.lastAt = now;
    this.whole = Math.floor(this.ms);
    return this.whole;
  }
}
