import { timerPeriod, type Clock, type Ticker } from '@skein/core';

interface Timer {
  ms: number;
  due: number;
  tick: () => void;
  /** Ref'd: would keep a real process alive. */
  held: boolean;
}

/**
 * A Clock the test drives. `advance(ms)` runs the tickers due in between, in time order;
 * `stall(ms)` moves time with no ticker running (an event loop blocked by a long synchronous
 * burst); `fireAll()` runs each ticker once, now (held-back tickers catching up). Counts clock
 * reads and tickers made, for tests of how often code reads the time or starts a timer, and
 * tells which tickers are ref'd (`held`), for tests of what keeps a process alive.
 */
export class ManualClock implements Clock {
  reads = 0;
  made = 0;
  private t = 0;
  private readonly timers = new Set<Timer>();

  /** The time, without counting a read. */
  get time(): number {
    return this.t;
  }

  /** Tickers running. */
  get running(): number {
    return this.timers.size;
  }

  /** Tickers running and ref'd: the ones that would keep a real process alive. */
  get held(): number {
    let n = 0;
    for (const timer of this.timers) if (timer.held) n++;
    return n;
  }

  /** The periods of the tickers running, in the order they were started. */
  get periods(): number[] {
    return [...this.timers].map((t) => t.ms);
  }

  now(): number {
    this.reads++;
    return this.t;
  }

  every(ms: number, tick: () => void): Ticker {
    // Refused as the system clock refuses it: a period no real timer holds fails in tests too.
    const period = Math.max(timerPeriod(ms), 1);
    this.made++;
    const timer = { ms: period, due: this.t + period, tick, held: false };
    this.timers.add(timer);
    return {
      stop: () => void this.timers.delete(timer),
      ref: () => void (timer.held = true),
      unref: () => void (timer.held = false),
    };
  }

  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: Timer | undefined;
      for (const timer of this.timers) if (timer.due <= end && (!next || timer.due < next.due)) next = timer;
      if (!next) break;
      this.t = next.due;
      next.due += next.ms;
      next.tick();
    }
    this.t = end;
  }

  stall(ms: number): void {
    this.t += ms;
  }

  fireAll(): void {
    for (const timer of [...this.timers]) {
      timer.due = this.t + timer.ms;
      timer.tick();
    }
  }
}
