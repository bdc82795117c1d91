/**
 * Time as the server's tick counts it, for its verdicts on connections (the keepalive, the idle
 * and read timeouts): each tick adds the time since the one before, but one period (`tickMs`) at
 * most, however late it comes. After a stalled event loop the first tick runs before the loop
 * reads its sockets (timers come before I/O), so by the clock a client's answer, call or rest of
 * a frame waiting there would have been missing for the whole stall, and a live client would be
 * ended for the server's own stall. Counted this way, a stall delays the verdict instead of
 * bringing it early, as TickClock does for a client's deadlines.
 */
export class TickedTime {
  private ms = 0;
  private lastAt = -1;

  constructor(private readonly periodMs: number) {}

  /** The ticked time as of the last tick: for stamps taken between ticks, with no clock read. */
  get now(): number {
    return this.ms;
  }

  /** The ticked time at a tick whose clock reads `now`. The first tick counts nothing. */
  tick(now: number): number {
    if (this.lastAt >= 0) this.ms += Math.min(Math.max(now - this.lastAt, 0), this.periodMs);
    this.lastAt = now;
    return this.ms;
  }
}
