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
  // The running calls, a list threaded through them rather than a Set: adding and removing
  // allocate nothing, and a Set with an add and a delete per call keeps garbage alive in V8
  // (stream's internals/seq-table.ts says how).
  private head: CallContext | undefined = undefined;
  private size = 0;
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
    const head = this.head;
    ctx.sweepPrev = undefined;
    ctx.sweepNext = head;
    if (head) head.sweepPrev = ctx;
    this.head = ctx;
    this.size++;
    this.ticker ??= this.clock.every(this.intervalMs, () => this.check());
  }

  /** Takes a call out; one not in the sweep (timed out already, or never added) is left alone. */
  delete(ctx: CallContext): void {
    if (ctx.sweepTick < 0) return;
    const { sweepPrev: prev, sweepNext: next } = ctx;
    if (prev) prev.sweepNext = next;
    else this.head = next;
    if (next) next.sweepPrev = prev;
    ctx.sweepPrev = ctx.sweepNext = undefined;
    ctx.sweepTick = -1;
    this.size--;
  }

  private check(): void {
    const tick = ++this.ticks;
    if (this.size === 0) {
      this.ticker?.stop();
      this.ticker = undefined;
      return;
    }
    for (let ctx = this.head; ctx; ) {
      const next: CallContext | undefined = ctx.sweepNext;
      if (tick - ctx.sweepTick > this.maxTicks) {
        this.delete(ctx);
        this.onTimeout(ctx);
      }
      ctx = next;
    }
  }
}
