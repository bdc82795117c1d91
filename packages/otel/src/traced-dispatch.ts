import { ROOT_CONTEXT, context, defaultTextMapGetter, propagation, trace, type Attributes, type TextMapPropagator } from '@opentelemetry/api';
import { ErrorCode, RpcError } from '@skein/core';
import { handlerEndToldBy, itemsReadBy, type ConnInfo, type Dispatch, type Metadata } from '@skein/stream';
import { CallRecorder } from './call-recorder.js';
import type { OtelOptions } from './options.js';
import { peerAttributes } from './peer-attributes.js';
import { metadataWithContext } from './trace-context.js';
import { watchedRequest } from './watched-request.js';

/**
 * A Dispatch that records a server span and the server metrics of every request, then hands it
 * to `inner` (`createServiceDispatch`, `createRouter`, or your own). The span continues the
 * client's trace when the request's metadata carries one (a `tracedCaller` sends it), and the
 * handler runs inside it: spans of calls it makes become its children. The request's metadata,
 * as `inner` reads it, carries the server span's trace context in place of the client's, so
 * that a WorkerPool hands it on to its workers (whose module runs its handlers in it with
 * `inTraceContext`); a dispatch that never reads the metadata pays nothing for it. A request that opened a
 * stream (`req.stream`) has its items counted on the span, which ends with its answer, its
 * cancel or its deadline.
 */
export function tracedDispatch(inner: Dispatch, opts: OtelOptions = {}): Dispatch {
  const recorder = new CallRecorder('server', opts);
  const propagator: TextMapPropagator = opts.propagator ?? propagation;
  // A connection's attributes are made on its first request: its ConnInfo lives as long as it does.
  const peers = new WeakMap<ConnInfo, Attributes>();
  const peerOf = (conn: ConnInfo): Attributes => {
    let a = peers.get(conn);
    if (!a) peers.set(conn, (a = Object.freeze(peerAttributes(conn.remote, conn.transport))));
    return a;
  };
  return {
    dispatch(req) {
      const parent = propagator.extract(ROOT_CONTEXT, req.metadata, defaultTextMapGetter);
      const call = recorder.begin(req.action, req.msg.length + req.blob.length, parent);
      if (!call) return inner.dispatch(req);
      call.span.setAttributes(peerOf(req.conn));
      // A stream's span runs from its open to its answer, the answer watchedRequest sees.
      const stream = req.stream;
      if (stream) stream.observe(recorder.streamOf(call));
      const active = trace.setSpan(parent, call.span);
      // The server span's context, in the metadata `inner` reads, made when first read: a
      // WorkerPool carries it to the worker that runs the handler (see `inTraceContext`).
      let metadata: Metadata | undefined;
      const watched = watchedRequest(req, recorder, call, () => (metadata ??= metadataWithContext(req.metadata, active, propagator)));
      try {
        context.with(active, () => inner.dispatch(watched.request));
        recorder.dispatched(call);
      } catch (err) {
        // The connection answers Internal on the request itself, which the proxy does not see.
        watched.end(new RpcError(ErrorCode.Internal, `dispatch threw: ${err instanceof Error ? err.message : String(err)}`, { cause: err }), 0);
        throw err;
      }
    },
    // What the inner dispatch counted and did not log yet would be lost with the server.
    serverClosed: () => inner.serverClosed?.(),
    // The proxy passes every answer, late ones too, and `handlerEnded`, on to the request.
    tellsHandlerEnds: inner.tellsHandlerEnds,
    // And per request, as `inner` says (a dispatchByService tells for its loop's services, not
    // for a pool's): with the flag alone its loop's abandoned handlers would go unbounded. The
    // server asks with its own request, whose action is the one the proxy handed `inner`.
    tellsHandlerEndOf: (req) => handlerEndToldBy(inner, req),
    // Whether a stream's handler reads items is `inner`'s to say: without it, every stream would reserve its window.
    readsItems: (action) => itemsReadBy(inner, action),
  };
}
