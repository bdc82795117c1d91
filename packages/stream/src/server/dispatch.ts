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
}
