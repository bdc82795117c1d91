/** Does nothing: the unhook of a listener told at once. */
export const noop = (): void => {};

/**
 * The listeners of an abort that has no AbortSignal made for it (ServerRequest.onAbort): a
 * handler's `ctx.signal`, and every call the handler makes with `{ ctx }`, link to its call
 * this way. A signal of the call's own and an `addEventListener` on it cost ~4 µs a hop on Node
 * 20 (an AbortController, and a map per signal that no inline cache settles on), and a listener
 * added to a signal many calls share (a connection's) walks all the others. Here adding and
 * unhooking cost the same however many calls listen, and a listener added twice is told once, as
 * an EventTarget's (though each add has its own unhook: unhooking one of two leaves the other).
 *
 * A list of small hooks, not a Set: a connection's plain calls all listen on one of these, with
 * an add and a delete per call, and a Set churned so rehashes into a fresh table every few
 * hundred calls, each linked to the next (see internals/seq-table.ts): once one was promoted, the
 * chain kept the listeners, and the calls they closed over, alive through young collections. A
 * handler's hop with `{ ctx }` spent 0.77 µs a call in GC, against 0.12 without
 * (docs/benchmarks.md, "Abort listeners in a list").
 */
export class AbortListeners {
  /** The first still hooked, and the last. */
  private head: Hook | undefined = undefined;
  private tail: Hook | undefined = undefined;
  private count = 0;
  private fired = false;

  /** How many wait to be told. */
  get size(): number {
    return this.count;
  }

  /** Adds `listener` (told once, at `fire`); returns its unhook. After `fire`, adds nothing. */
  add(listener: Listener): () => void {
    if (this.fired) return noop;
    const hook: Hook = { listener, prev: this.tail, next: undefined };
    if (this.tail === undefined) this.head = hook;
    else this.tail.next = hook;
    this.tail = hook;
    this.count++;
    return () => this.remove(hook);
  }

  /**
   * Tells every listener `reason`, in the order they came, each once however often it was added;
   * once. One that throws does not keep the others from being told; one unhooked by an earlier
   * one is not told, as an EventTarget's.
   */
  fire(reason: unknown): void {
    if (this.fired) return;
    this.fired = true;
    let hook = this.head;
    const many = this.count > 1;
    this.head = this.tail = undefined;
    this.count = 0;
    let thrown: unknown[] | undefined;
    let told: Set<Listener> | undefined;
    while (hook !== undefined) {
      const { listener, next } = hook;
      hook.listener = hook.prev = hook.next = undefined;
      hook = next;
      if (listener === undefined) continue;
      if (many) {
        told ??= new Set();
        if (told.has(listener)) continue;
        told.add(listener);
      }
      try {
        listener(reason);
      } catch (err) {
        (thrown ??= []).push(err);
      }
    }
    // As an EventTarget's listener that throws: reported, never in the way of the abort itself.
    if (thrown) for (const err of thrown) queueMicrotask(() => { throw err; });
  }

  /**
   * Unlinks `hook`, once (a second unhook finds it gone), and lets go of its neighbours: an unhook
   * kept after the call it was for must not keep the hooks added after it alive.
   */
  private remove(hook: Hook): void {
    if (hook.listener === undefined) return;
    hook.listener = undefined;
    // While firing, the list is already taken apart: the walk skips a hook without a listener.
    if (this.fired) return;
    const { prev, next } = hook;
    if (prev === undefined) this.head = next;
    else prev.next = next;
    if (next === undefined) this.tail = prev;
    else next.prev = prev;
    hook.prev = hook.next = undefined;
    if (--this.count === 0) this.emptied();
  }

  /** An unhook left none waiting (not called at `fire`): a subclass that listens for this abort on something else may stop. */
  protected emptied(): void {}
}

type Listener = (reason: unknown) => void;

/** One add: its listener until it is unhooked or told. */
interface Hook {
  listener: Listener | undefined;
  prev: Hook | undefined;
  next: Hook | undefined;
}
