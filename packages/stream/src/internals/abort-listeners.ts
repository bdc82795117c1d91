/** Does nothing: the unhook of a listener told at once. */
export const noop = (): void => {};

/**
 * The listeners of an abort that has no AbortSignal made for it (ServerRequest.onAbort): a
 * handler's `ctx.signal`, and through it every call the handler makes with `{ ctx }`, links to
 * its call this way. A signal of the call's own and an `addEventListener` on it cost ~4 µs a hop
 * on Node 20 (an AbortController, and a map per signal that no inline cache settles on).
 */
export class AbortListeners {
  private listeners: ((reason: unknown) => void)[] = [];
  private fired = false;

  /** Adds `listener` (told once, at `fire`); returns its unhook. */
  add(listener: (reason: unknown) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Tells every listener `reason`, in the order they came; once. One that throws does not keep the others from being told. */
  fire(reason: unknown): void {
    if (this.fired) return;
    this.fired = true;
    const listeners = this.listeners;
    this.listeners = [];
    let thrown: unknown[] | undefined;
    for (const l of listeners) {
      try {
        l(reason);
      } catch (err) {
        (thrown ??= []).push(err);
      }
    }
    // As an EventTarget's listener that throws: reported, never in the way of the abort itself.
    if (thrown) for (const err of thrown) queueMicrotask(() => { throw err; });
  }
}
