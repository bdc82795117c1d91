import { getEventListeners, setMaxListeners } from 'node:events';

/**
 * A signal that outlives the calls given it, as an application's shutdown signal does: what a
 * settled call leaves on it is a leak. Node's warning at 11 listeners is off, as thousands of
 * calls at once legitimately listen to it.
 */
export function longLivedSignal(): AbortSignal {
  const signal = new AbortController().signal;
  setMaxListeners(0, signal);
  return signal;
}

/** The abort listeners on `signal` now: 0 once every call given it settled. */
export function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

/** What keeps listeners told without a signal: @skein/stream's `LazyAbort`, its `AbortListeners` held as `told`. */
interface Telling {
  readonly told?: { readonly size: number };
}

/**
 * The listeners an abort tells with no AbortSignal made for it (stream's `AbortListeners`), where
 * a handler's calls link: those on a handler's `ctx` (@skein/api's CallContext: the calls made
 * with `{ ctx }` still out), or, given a plain call's ServerRequest, those on its connection (what
 * `req.onAbort` hooks: a `ctx` linked to its call). 0 once every call that listened settled. Read
 * from fields no public API shows, here only, so a test states what must not stay behind.
 */
export function toldListeners(of: object): number {
  const owner = (of as { owner?: { callAbort?: Telling } }).owner;
  if (owner !== undefined) {
    if (owner.callAbort === undefined) throw new TypeError('toldListeners: a request whose connection keeps no listeners of its own');
    return owner.callAbort.told?.size ?? 0;
  }
  // A CallContext: its abort (a LazyAbort) is made when first needed.
  if (!('aborts' in of)) throw new TypeError('toldListeners: neither a CallContext nor a plain ServerRequest');
  return (of as { aborts?: Telling }).aborts?.told?.size ?? 0;
}
