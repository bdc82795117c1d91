import { systemClock, type Clock, type Ticker } from '@skein/core';
import type { CallContext } from './context.js';

/**
 * Times out running handlers in one pass a tick (at most a second), instead of a timer per call,
 * and with no clock read per call: a call times out once more than ⌈timeoutMs / tick⌉ ticks
 * passed since it started, so after at least its whole timeout and at most two ticks late.
 * The ticker runs only while calls are being handled: it stops itself on a tick that finds
 * none (not when the last call ends, so calls one at a time do not make a timer each), and an
 * idle server holds no timer. It is unref'd: it never keeps a process alive.
 */
export class TimeoutSweep {
  private readonly running = new Set<CallContext>();
  private readonly intervalMs: number;
  /** Ticks a call may run through before it is timed out. */
  private readonly maxTicks: number;
  private ticker: Ticker | undefined;
  private ticks = 0;

  constructor(
    timeoutMs: number,
    private readonly onTimeout: (ctx: CallContext) => void,
    private readonly clock: Clock = systemClock,
  ) {
    this.intervalMs = Math.min(1000, timeoutMs);
    this.maxTicks = Math.ceil(timeoutMs / this.intervalMs);
  }

  add(ctx: CallContext): void {
    ctx.sweepTick = this.ticks;
    this.running.add(ctx);
    this.ticker ??= this.clock.every(this.intervalMs, () => this.check());
  }

  delete(ctx: CallContext): void {
    this.running.delete(ctx);
  }

  private check(): void {
    const tick = ++this.ticks;
    if (this.running.size === 0) {
      this.ticker?.stop();
      this.ticker = undefined;
      return;
    }
    for (const ctx of this.running) {
      if (tick - ctx.sweepTick <= this.maxTicks) continue;
      this.running.delete(ctx);
      this.onTimeout(ctx);
    }
  }
}
