import { MAX_TIMER_MS, type Clock, type Ticker } from '@skein/core';

/**
 * One thing due at a time on a Clock: `set(when, fire)` runs `fire` once the clock reaches
 * `when`, replacing what was set before. Clocks only tick, so it is a ticker stopped at its first
 * tick, set again when it fired early (a wait past what a timer takes is waited in parts).
 */
export class Alarm {
  private ticker: Ticker | undefined;

  constructor(private readonly clock: Clock) {}

  set(when: number, fire: () => void): void {
    this.stop();
    if (when === Infinity) return;
    const wait = Math.min(MAX_TIMER_MS, Math.max(1, when - this.clock.now()));
    this.ticker = this.clock.every(wait, () => {
      this.stop();
      if (this.clock.now() < when) return this.set(when, fire);
      fire();
    });
  }

  stop(): void {
    this.ticker?.stop();
    this.ticker = undefined;
  }
}
