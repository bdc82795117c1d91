import { ROOT_CONTEXT, context, defaultTextMapGetter, propagation, type TextMapPropagator } from '@opentelemetry/api';
import { handlerEndToldBy, itemsReadBy, type Dispatch } from '@skein/stream';
import type { OtelOptions } from './options.js';

/**
 * A Dispatch that runs `inner` in the trace context its request's metadata carries, and makes no
 * span of its own: for a `@skein/workers` module, whose handlers run on another thread than the
 * server span `tracedDispatch` made for their call. That dispatch hands the span's context on in
 * the request's metadata, which the pool carries to the worker; there, with an SDK set up in the
 * worker (a context manager registered, as `NodeTracerProvider.register()` does), the spans the
 * handler makes and the calls it makes through a `tracedCaller` are the server span's children,
 * in its trace.
 *
 * ```ts
 * // services.js, the module every worker loads (after setting up the SDK there)
 * export default () => inTraceContext(createServiceDispatch({ codec, services }));
 * ```
 *
 * A request without a trace context (none sent, no SDK on the server's thread) runs as it would
 * unwrapped, in the context active then, for a read of its metadata and the propagator's look.
 */
export function inTraceContext(inner: Dispatch, opts: Pick<OtelOptions, 'propagator'> = {}): Dispatch {
  const propagator: TextMapPropagator = opts.propagator ?? propagation;
  return {
    dispatch(req) {
      const parent = propagator.extract(ROOT_CONTEXT, req.metadata, defaultTextMapGetter);
      // Nothing extracted: the propagator gave back the context it was given.
      if (parent === ROOT_CONTEXT) return inner.dispatch(req);
      context.with(parent, () => inner.dispatch(req));
    },
    serverClosed: () => inner.serverClosed?.(),
    tellsHandlerEnds: inner.tellsHandlerEnds,
    tellsHandlerEndOf: (req) => handlerEndToldBy(inner, req),
    readsItems: (action) => itemsReadBy(inner, action),
  };
}
