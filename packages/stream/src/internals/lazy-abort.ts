import type { AbortSource } from '../client/call-options.js';
import { AbortListeners, noop } from './abort-listeners.js';
import { manyListeners } from './many-listeners.js';

/**
 * An abort that fires once: one call's (a request with a head, a handler's `ctx`), or one many
 * calls share (a server's `draining`, a connection's close for its plain calls). Its signal is
 * made only when first read (one read after `fire` finds it aborted already; a shared one warns
 * of no "memory leak" past 10 listeners, manyListeners); its listeners may instead be told without
 * it (`onAbort`, as an AbortSource), which costs the same however many listen, where a listener
 * added to a signal walks all the others, and an AbortSignal costs ~1–2 µs to make on Node 20.
 */
export class LazyAbort implements AbortSource {
  constructor(
    /** Many calls listen (a server's or a connection's): its signal allows any number of listeners. */
    private readonly shared = false,
  ) {}

  private controller: AbortController | undefined;
  private told: AbortListeners | undefined = undefined;
  private fired = false;
  private reason: unknown = undefined;

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.shared) manyListeners(this.controller.signal);
      if (this.fired) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.fired;
  }

  onAbort(listener: (reason: unknown) => void): () => void {
    if (this.fired) {
      listener(this.reason);
      return noop;
    }
    return (this.told ??= new AbortListeners()).add(listener);
  }

  /**
   * Aborts (now, or the signal when first read) with `reason`: without one, the AbortError an
   * AbortController's `abort()` gives, so listeners told without the signal hear what its
   * listeners would. Once only: later calls do nothing.
   */
  fire(reason?: unknown): void {
    if (this.fired) return;
    this.fired = true;
    this.reason = reason ?? new DOMException('This operation was aborted', 'AbortError');
    this.controller?.abort(this.reason);
    this.told?.fire(this.reason);
  }
}
