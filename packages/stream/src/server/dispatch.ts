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
   * dispatch set it.
   */
  readonly tellsHandlerEnds?: boolean;
}
