import { AbortListeners } from './abort-listeners.js';

/**
 * Calls listening to an AbortSignal that a caller gives many of them (one for a request's whole
 * work, one for shutdown), behind one listener of their own on it. A listener per call cost a
 * client ~1.5 µs a call with 256 out on one signal on Node 20 (each `addEventListener` walks the
 * listeners already there, for its duplicate check, and each removal walks them again:
 * docs/benchmarks.md, "One signal, many calls"), and the eleventh printed
 * "MaxListenersExceededWarning: Possible EventTarget memory leak detected" for calls that each
 * remove their listener when they end. Through one list a call's add and unhook cost the same
 * however many listen, and when the last one out unhooks, the one listener leaves the signal too:
 * nothing of settled calls stays on it.
 *
 * Most signals are one call's (`AbortSignal.timeout(ms)` per call): those keep a listener of
 * their own, as before, for keeping anything per signal (a WeakMap entry, a property on it) cost
 * such a call more than the listener (~2 µs against ~0.3 here). A signal gets its list when it
 * comes back while it is one of the last few seen (`RECENT`), which a signal shared by calls in
 * flight always is. Those few are held here until others take their places.
 */
const RECENT = 4;
const recentSignals: (AbortSignal | undefined)[] = new Array<AbortSignal | undefined>(RECENT).fill(undefined);
const recentLists: (SignalListeners | undefined)[] = new Array<SignalListeners | undefined>(RECENT).fill(undefined);
let oldest = 0;

/** `told` is called once, at `signal`'s abort, unless the returned unhook runs first. The signal must not have aborted yet. */
export function listenToSignal(signal: AbortSignal, told: () => void): () => void {
  for (let i = 0; i < RECENT; i++) if (recentSignals[i] === signal) return (recentLists[i] ??= new SignalListeners(signal)).add(told);
  recentSignals[oldest] = signal;
  recentLists[oldest] = undefined;
  oldest = (oldest + 1) % RECENT;
  signal.addEventListener('abort', told, { once: true });
  return () => signal.removeEventListener('abort', told);
}

/** `list` no longer takes calls: the next call with its signal gets a new one. */
function forget(list: SignalListeners): void {
  for (let i = 0; i < RECENT; i++) if (recentLists[i] === list) recentLists[i] = undefined;
}

/**
 * One signal's calls, told in the order they came; itself the one listener on the signal, so
 * they are told together, where the first of them stood among its listeners (a listener of
 * someone else's added between two calls is told after both).
 */
class SignalListeners extends AbortListeners {
  /** Whether this is on the signal: while any call listens. */
  private listening = false;

  constructor(private readonly signal: AbortSignal) {
    super();
  }

  override add(listener: (reason: unknown) => void): () => void {
    if (!this.listening) {
      this.listening = true;
      this.signal.addEventListener('abort', this, { once: true });
    }
    return super.add(listener);
  }

  /** The signal aborted. */
  handleEvent(): void {
    this.listening = false;
    // An 'abort' event dispatched by hand on a signal that has not aborted: the calls out are told,
    // as listeners of their own would be, and this list, fired now, gives its place to a new one
    // for the calls made after, which its real abort must still reach.
    if (!this.signal.aborted) forget(this);
    this.fire(this.signal.reason);
  }

  protected override emptied(): void {
    if (!this.listening) return;
    this.listening = false;
    this.signal.removeEventListener('abort', this);
  }
}
