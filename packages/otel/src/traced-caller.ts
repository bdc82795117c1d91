import { context, defaultTextMapSetter, isSpanContextValid, propagation, trace, type Attributes, type Context, type Span, type TextMapPropagator } from '@opentelemetry/api';
import { EMPTY_BYTES, extended } from '@skein/core';
import type { Caller, CallOptions, Notify, StreamCall, StreamCaller } from '@skein/stream';
import { CallRecorder, type OpenCall } from './call-recorder.js';
import type { OtelOptions } from './options.js';
import { serverAttributes } from './peer-attributes.js';

export interface TracedCallerOptions extends OtelOptions {
  /**
   * The server's address for `server.address`/`server.port`, in any form `parseAddress` reads
   * (`host:port`, `wss://host/path`, `unix:/path`...; a URL's query is never recorded).
   * Default: the caller's own `remote` when it has one (a ClientStream); a pool's calls go to
   * whichever server it picks, so pass it only when all of them answer at one address.
   */
  server?: string | undefined;
}

/**
 * A Caller that records a client span and the client metrics of every call it carries, and
 * sends the span's trace context in the call's metadata (W3C `traceparent` with the usual
 * propagator). Wrap any carrier — a ClientStream, a ConnPool, a FailoverPool — and give the
 * result to `createClient`; code that does not wrap pays nothing.
 *
 * A carrier that opens streams gives a wrapper that does too: each stream gets one span from
 * its open to its answer (or its cancel or failure), with its items counted, and its trace
 * context travels in the open's metadata.
 *
 * The span is a child of the context active when the call is made.
 */
export function tracedCaller(caller: StreamCaller, opts?: TracedCallerOptions): StreamCaller;
export function tracedCaller(caller: Caller, opts?: TracedCallerOptions): Caller;
export function tracedCaller(caller: Caller, opts: TracedCallerOptions = {}): Caller {
  const recorder = new CallRecorder('client', opts);
  const propagator: TextMapPropagator = opts.propagator ?? propagation;
  const server = opts.server ?? (caller as { remote?: unknown }).remote;
  const spanAttributes: Attributes | undefined = typeof server === 'string' ? Object.freeze(serverAttributes(server)) : undefined;
  /** A call's or a stream's span and metrics, from its opening request; undefined with nothing to record. */
  const begin = (action: string | number, msg: Uint8Array, options: CallOptions, parent: Context): OpenCall | undefined => {
    const call = recorder.begin(action, msg.length + (options.blob?.length ?? 0), parent);
    if (call && spanAttributes) call.span.setAttributes(spanAttributes);
    return call;
  };
  /**
   * A carrier that throws instead of notifying (any Caller may): the call is over all the same,
   * so its span ends and it leaves `in_flight`; the throw goes on as it would unwrapped.
   */
  const endThrown = (call: OpenCall, err: unknown): never => {
    if (!call.ended) recorder.end(call, err, 0);
    throw err;
  };
  const send = (action: string | number, msg: Uint8Array, options: CallOptions, notify: Notify): void => {
    const parent = context.active();
    const call = begin(action, msg, options, parent);
    if (!call) return caller.send(action, msg, options, notify);
    try {
      caller.send(action, msg, withTraceContext(options, parent, call.span, propagator), (err, reply) => {
        recorder.end(call, err, reply ? reply.msg.length + reply.blob.length : 0);
        notify(err, reply);
      });
    } catch (err) {
      endThrown(call, err);
    }
  };
  const opener = caller as Partial<StreamCaller>;
  // The carrier's default timeout is passed on, read when asked: @skein/api bounds a client
  // filter's wait for a call given none by it (Caller.timeoutMs).
  if (typeof opener.openStream !== 'function') {
    return {
      send,
      get timeoutMs() {
        return caller.timeoutMs;
      },
    };
  }
  const openStream = (action: string | number, msg: Uint8Array = EMPTY_BYTES, options: CallOptions = {}): StreamCall => {
    const parent = context.active();
    const call = begin(action, msg, options, parent);
    if (!call) return opener.openStream!(action, msg, options);
    let stream: StreamCall;
    try {
      stream = opener.openStream!(action, msg, withTraceContext(options, parent, call.span, propagator));
    } catch (err) {
      return endThrown(call, err);
    }
    stream.observe(recorder.streamOf(call));
    // Settles once, however the stream ends: answered, failed, cancelled (by cancel(), a signal, a broken-off read).
    stream.result.then(
      (reply) => recorder.end(call, null, reply.msg.length + reply.blob.length),
      (err: unknown) => recorder.end(call, err, 0),
    );
    return stream;
  };
  const streams: StreamCaller = {
    send,
    openStream,
    get timeoutMs() {
      return caller.timeoutMs;
    },
  };
  return streams;
}

/**
 * The call's options with the span's trace context added to its metadata. The same object when
 * there is none to add (an invalid context is never propagated): the call then goes as it would
 * unwrapped, with no head on the wire.
 */
function withTraceContext(options: CallOptions, parent: Context, span: Span, propagator: TextMapPropagator): CallOptions {
  if (!isSpanContextValid(span.spanContext())) return options;
  const carrier: Record<string, string> = {};
  propagator.inject(trace.setSpan(parent, span), carrier, defaultTextMapSetter);
  for (const _ in carrier) return extended(options, { metadata: options.metadata ? extended(options.metadata, carrier) : carrier });
  return options;
}
