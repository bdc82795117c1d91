/** Does nothing: the unhook of a listener told at once. */
export const noop = (): void => {};

/**
 * The listeners of an abort that has no AbortSignal made for it (ServerRequest.onAbort): a
 * handler's `ctx.signal`, and every call the handler makes with `{ ctx }`, link to its call
 * this way. A signal of the call's own and an `addEventListener` on it cost ~4 µs a hop on Node
 * 20 (an AbortController, and a map per signal that no inline cache settles on), and a listener
 * added to a signal many calls share (a connection's) walks all the others. Here adding and
 * unhooking cost the same however many calls listen (one in a field, more in a set), and a
 * listener added twice is told once, as an EventTarget's.
 */
export class AbortListeners {
  /** The only listener while there is one: a handler's call has one downstream call at a time, mostly. */
  private one: Listener | undefined = undefined;
  /** All of them, in order, once a second came. */
  private many: Set<Listener> | undefined = undefined;
  private fired = false;

  /** How many wait to be told. */
  get size(): number {
    return this.many !== undefined ? this.many.size : this.one !== undefined ? 1 : 0;
  }

  /** Adds `listener` (told once, at `fire`); returns its unhook. After `fire`, adds nothing. */
  add(listener: Listener): () => void {
    if (this.fired) return noop;
    if (this.many !== undefined) this.many.add(listener);
    else if (this.one === undefined || this.one === listener) this.one = listener;
    else {
      this.many = new Set([this.one, listener]);
      this.one = undefined;
    }
    return () => this.remove(listener);
  }

  /** Tells every listener `reason`, in the order they came; once. One that throws does not keep the others from being told. */
  fire(reason: unknown): void {
    if (this.fired) return;
    this.fired = true;
    const { one, many } = this;
    this.one = undefined;
    let thrown: unknown[] | undefined;
    const tell = (l: Listener): void => {
      try {
        l(reason);
      } catch (err) {
        (thrown ??= []).push(err);
      }
    };
    if (one !== undefined) tell(one);
    // The set itself, not a copy: a listener an earlier one unhooks is not told, as an EventTarget's.
    if (many !== undefined) for (const l of many) tell(l);
    this.many = undefined;
    // As an EventTarget's listener that throws: reported, never in the way of the abort itself.
    if (thrown) for (const err of thrown) queueMicrotask(() => { throw err; });
  }

  private remove(listener: Listener): void {
    if (this.one === listener) this.one = undefined;
    else this.many?.delete(listener);
  }
}

type Listener = (reason: unknown) => void;
