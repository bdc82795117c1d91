import type { CallContext } from './context.js';

/**
 * Times out running handlers in one pass a second, instead of a timer per call. The timer runs
 * only while some call is being handled, so an idle server holds no timer.
 */
export class TimeoutSweep {
  private readonly running = new Set<CallContext>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly onTimeout: (ctx: CallContext) => void,
  ) {}

  add(ctx: CallContext): void {
    ctx.startedAt = performance.now();
    this.running.add(ctx);
    this.timer ??= setInterval(() => this.check(), Math.min(1000, this.timeoutMs));
  }

  delete(ctx: CallContext): void {
    this.running.delete(ctx);
    if (this.running.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private check(): void {
    const now = performance.now();
    for (const ctx of this.running) {
      if (now - ctx.startedAt < this.timeoutMs) continue;
      this.delete(ctx);
      this.onTimeout(ctx);
    }
  }
}
