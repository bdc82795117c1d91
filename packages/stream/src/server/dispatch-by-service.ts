import { invalidArgument } from '@skein/core';
import { handlerEndToldBy, itemsReadBy, type Dispatch } from './dispatch.js';
import type { ServerRequest } from './request.js';
import { kindOf } from '../internals/kind-of.js';

export interface DispatchByServiceOptions {
  /**
   * The dispatch of each service, by its name: the text of a string action before its last dot
   * (`skein.health.Health` for `skein.health.Health.check`; a service's name may have dots, a
   * method's never has). A whole action (`Orders.add`) is no key: it would be read as a service
   * of that name. Names are taken when the dispatch is made; later changes to the object count
   * for nothing.
   */
  readonly services: Readonly<Record<string, Dispatch>>;
  /**
   * Every request no service above takes: numeric actions, string actions of a service not
   * listed, and actions with no dot. Required: this dispatch answers nothing itself, so an
   * unknown call is answered by the dispatch you chose, with its own words and logging (a
   * `createServiceDispatch` answers a service it lacks with a `Service` error, a WorkerPool's
   * workers likewise).
   */
  readonly otherwise: Dispatch;
}

/**
 * A Dispatch that hands each request to the dispatch of its service, and all else to
 * `otherwise`: some services on the server's event loop, the rest on a `@skein/workers` pool
 * (`dispatchByService({ services: { [HEALTH_SERVICE_NAME]: onLoop }, otherwise: pool })`), so
 * that a health probe is answered even while the pool's queue is full. Streams and calls a
 * client's `serve` takes go the same way: everything a server does with a request goes through
 * `dispatch(req)`. A string action costs one `lastIndexOf`, one `slice` and one Map lookup, a
 * numeric one a compare (docs/benchmarks.md); a server without it pays nothing.
 *
 * `serverClosed` is told to each distinct dispatch once (one listed twice, or also `otherwise`,
 * hears it once). Whether it tells when a handler ends is said per request, by the dispatch the
 * request went to (`tellsHandlerEndOf`, see below); `tellsHandlerEnds`, for all, is true only
 * when every one's is.
 */
export function dispatchByService(opts: DispatchByServiceOptions): Dispatch {
  const { byService, otherwise } = checked(opts);
  const all = [...new Set([...byService.values(), otherwise])];
  /** The dispatch `req` goes to: by its action alone, so that asked again it answers the same. */
  const routeName = (name: string): Dispatch => {
    const dot = name.lastIndexOf('.');
    if (dot > 0) {
      const d = byService.get(name.slice(0, dot));
      if (d !== undefined) return d;
    }
    return otherwise;
  };
  // Read without the `action` getter: -1 marks a string action, the common case here.
  const route = (req: ServerRequest): Dispatch => (req.actionId < 0 ? routeName(req.actionName) : otherwise);
  return {
    dispatch(req) {
      route(req).dispatch(req);
    },
    serverClosed() {
      // Each hears it though one throws before it: what a later one counted is not lost with
      // the server. The first error is thrown after, for the server to log.
      let first: { err: unknown } | undefined;
      for (const d of all) {
        try {
          d.serverClosed?.();
        } catch (err) {
          first ??= { err };
        }
      }
      if (first !== undefined) throw first.err;
    },
    // The server asks it when a call is abandoned while its handler runs: true, and it counts
    // that handler against its connection until the dispatch says it ended. Counted under a
    // dispatch that never says so (one of your own without the flag), a handler would hold its place for ever, and a
    // connection whose places are so held reads no further call: it would stall. Not counted under
    // one that says so (health on the loop), nothing bounds how many a peer that abandons every
    // call to it keeps running. So the dispatch that took the request answers, found again by its
    // action: only an abandoned call pays for the lookup, no call pays for a mark.
    tellsHandlerEndOf: (req) => handlerEndToldBy(route(req), req),
    // Asked as a stream opens, before it is handed on: the dispatch its action goes to answers
    // (health on the loop says its watch reads nothing, so it holds no share of the budget).
    readsItems: (action) => itemsReadBy(typeof action === 'string' ? routeName(action) : otherwise, action),
    // For every request: what a reader of the flag alone goes by (a wrapper that passes on only
    // it, as an older tracedDispatch does), where true would count the untold too. So true only
    // when every dispatch here tells.
    tellsHandlerEnds: all.every((d) => d.tellsHandlerEnds === true),
  };
}

/** The options checked: InvalidArgument naming what is wrong. */
function checked(opts: DispatchByServiceOptions): { byService: Map<string, Dispatch>; otherwise: Dispatch } {
  if (typeof opts !== 'object' || opts === null) throw invalidArgument(`dispatchByService takes { services, otherwise }, got ${kindOf(opts)}`);
  const { services, otherwise } = opts;
  // A Map or an array has no entries Object.entries reads as services: every call would go to otherwise.
  if (typeof services !== 'object' || services === null || Array.isArray(services) || services instanceof Map) {
    throw invalidArgument(`dispatchByService: services must be an object of dispatches by service name ({ 'skein.health.Health': onLoop }), got ${kindOf(services)}`);
  }
  if (!isDispatch(otherwise)) {
    throw invalidArgument(`dispatchByService: otherwise must be a Dispatch (an object with dispatch(req)) for the calls no service listed takes, got ${kindOf(otherwise)}`);
  }
  const byService = new Map<string, Dispatch>();
  for (const [name, d] of Object.entries(services)) {
    if (name === '') throw invalidArgument("dispatchByService: a service name is empty (a call's service is the text of its action before the last dot)");
    // A key `1` would read as numeric action 1, which is no service: such requests go to `otherwise`.
    if (/^\d+$/.test(name)) throw invalidArgument(`dispatchByService: service name "${name}" is a number: numeric actions have no service, and go to otherwise`);
    if (!isDispatch(d)) throw invalidArgument(`dispatchByService: services[${JSON.stringify(name)}] must be a Dispatch (an object with dispatch(req)), got ${kindOf(d)}`);
    byService.set(name, d);
  }
  return { byService, otherwise };
}

function isDispatch(d: unknown): d is Dispatch {
  if ((typeof d !== 'object' && typeof d !== 'function') || d === null || typeof (d as Dispatch).dispatch !== 'function') return false;
  // `readsItems`, where given, is asked at every stream open: a flag there would throw at each.
  const reads = (d as Dispatch).readsItems;
  return reads === undefined || typeof reads === 'function';
}
