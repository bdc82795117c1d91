import type { ServerRequest } from './request.js';

/**
 * Where the server hands each request. `dispatch` must not block: start the work and return;
 * answer later through `req.reply`, `req.fail` or `req.failCustom` (the response notifier).
 * Throwing from `dispatch` answers the request with an Internal error.
 */
export interface Dispatch {
  dispatch(req: ServerRequest): void;
  /**
   * A server handing requests here has closed (its last connection answered): a dispatch says
   * what it counted and has not logged yet (`WithheldLog.flush`). Optional; one dispatch serving
   * several servers hears it from each.
   */
  serverClosed?(): void;
  /**
   * True when, for a call abandoned (cancelled, past its deadline) while its handler ran, this
   * dispatch says when that handler ends: with its late answer (`req.reply`, `req.fail`, ignored
   * on the wire), or with `req.handlerEnded()` when it gives none; one that answers a call itself
   * while its handler runs on (its own handler timeout) calls `req.runsOn()` just before that
   * answer, so that the handler counts until then too. The server then runs at most
   * twice `maxInFlightPerConn` handlers per connection, these included, and reads no further
   * call there until one ends; without it their slots are free at once and nothing bounds how many a peer
   * that abandons every call it makes keeps running. `createRouter` and `@skein/api`'s
   * dispatch set it. True means for every request: one that hands some requests to a dispatch
   * that tells and others to one that does not says so per request (`tellsHandlerEndOf`).
   */
  readonly tellsHandlerEnds?: boolean | undefined;
  /**
   * `tellsHandlerEnds` for one request: whether this dispatch tells when `req`'s handler ends.
   * For a dispatch that hands requests on to several (`dispatchByService`: health on the loop,
   * which tells, beside another that does not, or tells only of some requests, as a worker pool
   * tells only of those its workers hold), where one flag for all would either lose the bound on
   * the told handlers (false) or count untold ones (true), whose ends nobody tells: each would
   * hold its connection's place for ever, and a connection so filled reads no more.
   * When present the server asks it instead of reading `tellsHandlerEnds`, and only for a call
   * abandoned while its handler runs (or at `req.runsOn()`), so that a call pays nothing for it.
   * Asked after the request was handed on, it must answer for the dispatch the request went to,
   * found again from what the request came with (its action, as `dispatchByService` does), not
   * from state that may have changed since. A dispatch that wraps another passes it on
   * (`tracedDispatch` does).
   */
  tellsHandlerEndOf?(req: ServerRequest): boolean;
  /**
   * Whether the handler of a stream opened on `action` reads the client's items: false for one
   * that never does (a server-streaming method's, a health watch). Asked once per stream as it
   * opens, before it is handed on (never for a plain call), from the server's own knowledge of
   * its handlers: never from what the client sent (its stream-kind metadata entry), which a
   * client could set to hold nothing while it fills the window. False opens the stream with its
   * items discarded from the start (as `req.stream.ignoreItems()` does), and it holds none of the
   * connection's `streamBudgetBytes`; true, or absent, reserves its whole window until it is
   * answered (or cancelled, or lost, or its handler calls `ignoreItems`), so that a connection
   * full of such streams refuses more (Overloaded). `createRouter` leaves it out (a raw handler
   * may read, and calls `ignoreItems` when it does not); `@skein/api`'s dispatch answers from
   * each method's kind, and a dispatch that wraps or routes to others asks the one the action goes to.
   */
  readsItems?(action: string | number): boolean;
}

/**
 * Whether `d` tells when `req`'s handler ends: its per-request answer where it has one, else
 * its flag. What the server asks when a call is abandoned while its handler runs, and what
 * dispatchByService asks of the dispatch it chose, so that however they nest each request gets
 * the answer of the dispatch that runs its handler.
 */
export function handlerEndToldBy(d: Dispatch, req: ServerRequest): boolean {
  return d.tellsHandlerEndOf !== undefined ? d.tellsHandlerEndOf(req) === true : d.tellsHandlerEnds === true;
}

/** Whether a stream opened on `action` has a handler that reads its items (`Dispatch.readsItems`; absent: it may). */
export function itemsReadBy(d: Dispatch, action: string | number): boolean {
  return d.readsItems === undefined || d.readsItems(action) !== false;
}
