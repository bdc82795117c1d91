import { manyListeners } from './many-listeners.js';

/**
 * A signal that fires once, made only when first read: a server's `draining`, which every call
 * may look at but few do. Nothing is built until someone reads it, and one read after `fire`
 * finds it aborted already. Shared by every call that reads it, so it warns of no "memory leak"
 * past 10 listeners (manyListeners).
 */
export class LazyAbort {
  private controller: AbortController | undefined;
  private fired = false;
  private reason: unknown = undefined;

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      manyListeners(this.controller.signal);
      if (this.fired) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** Aborts the signal (now, or when first read) with `reason`. Once only: later calls do nothing. */
  fire(reason: unknown): void {
    if (this.fired) return;
    this.fired = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}
