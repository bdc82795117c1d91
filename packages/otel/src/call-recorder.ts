import { INVALID_SPAN_CONTEXT, SpanKind, type Attributes, SpanStatusCode, createNoopMeter, metrics, trace, type Context, type Meter, type Span, type Tracer } from '@opentelemetry/api';
import { RemoteError, RpcError } from '@skein/core';
import { ActionNameCache, type ActionNames } from './action-attributes.js';
import { errorAttributes, errorType, isServerFault, isUnknownAction } from './error-kind.js';
import { DEFAULT_MESSAGE_EVENTS, INSTRUMENTATION_NAME, type OtelOptions } from './options.js';
import { RpcMetrics } from './rpc-metrics.js';
import { ATTR_SKEIN_ERROR_RETRY } from './semconv.js';
import { StreamTally } from './stream-tally.js';

/** A call between its start and its answer: its span and what its metrics need at the end. */
export interface OpenCall {
  readonly span: Span;
  readonly names: ActionNames;
  readonly startedAt: number;
  readonly requestBytes: number;
  /** The `in_flight` series it was counted in (see `dispatched`); undefined while not counted. */
  inFlight: Attributes | undefined;
  /** `end` ran: a dispatch that answered before it returned leaves nothing in flight. */
  ended: boolean;
  /** Its items, when the call is a stream (`streamOf`). */
  stream?: StreamTally;
}

/**
 * One side's span and metrics per call: both sides record the same way, only the span kind and
 * what counts as an error on the span differ (see `isServerFault`).
 */
export class CallRecorder {
  private readonly tracer: Tracer;
  /** None while the meter is the API's no-op one: a call then reads no clock for its metrics. */
  private readonly metrics: RpcMetrics | undefined;
  private readonly names: ActionNameCache;
  private readonly messageEvents: number;
  /** The server's dispatch refused an action after it returned: in flight waits for an answer to name an action. */
  private refusesLate = false;
  /** Names a server may still trust before an answer vouched for them (`trusts`). */
  private provisionalLeft = MAX_PROVISIONAL;

  constructor(
    private readonly side: 'client' | 'server',
    opts: OtelOptions,
  ) {
    this.tracer = (opts.tracerProvider ?? trace).getTracer(INSTRUMENTATION_NAME);
    const meter = (opts.meterProvider ?? metrics).getMeter(INSTRUMENTATION_NAME);
    this.metrics = isNoopMeter(meter) ? undefined : new RpcMetrics(meter, side);
    this.names = new ActionNameCache(side === 'client' ? SpanKind.CLIENT : SpanKind.SERVER);
    this.messageEvents = opts.messageEvents ?? DEFAULT_MESSAGE_EVENTS;
  }

  /** The call is a stream: its items are counted from now on, and ending it records them. */
  streamOf(call: OpenCall): StreamTally {
    const fallback = this.side === 'client' ? call.names.attributes : this.names.other.attributes;
    return (call.stream = new StreamTally(call.span, this.metrics, call, fallback, this.side, this.messageEvents));
  }

  /**
   * Starts a call's span (the action's attributes given at creation, where samplers see them)
   * and metrics. Undefined when there is nothing to record: no SDK, so the span is the no-op
   * tracer's (no context of its own to pass on) and the meter a no-op one.
   */
  begin(action: string | number, requestBytes: number, parent: Context): OpenCall | undefined {
    const names = this.names.of(action);
    const span = this.tracer.startSpan(names.spanName, names.spanOptions, parent);
    if (!this.metrics) return span.spanContext() === INVALID_SPAN_CONTEXT ? undefined : { span, names, startedAt: 0, requestBytes, inFlight: undefined, ended: false, stream: undefined };
    const call: OpenCall = { span, names, startedAt: performance.now(), requestBytes, inFlight: undefined, ended: false, stream: undefined };
    if (this.side === 'client') this.dispatched(call);
    return call;
  }

  /**
   * The dispatch returned without refusing the call: it is in flight under its action's name.
   * A server counts it only now, as any peer can name actions the server does not have (refused
   * at once), and an `in_flight` series per such name would grow with calls. A dispatch that
   * refuses later (a WorkerPool's worker does) shows it on its first late refusal: from then on,
   * calls of an action the server has not answered yet are in flight under `_OTHER`, so a peer
   * minting names leaves at most that first one behind (at most MAX_PROVISIONAL when it gives up
   * its calls before any refusal: see `trusts`).
   */
  dispatched(call: OpenCall): void {
    if (call.ended || !this.metrics) return;
    call.inFlight = this.trusts(call.names) ? call.names.attributes : this.names.other.attributes;
    this.metrics.started(call.inFlight);
  }

  /**
   * Ends the call: `err` null for an answer. Once only: a carrier may throw after it handed the
   * call on, and notify when the answer comes; a second end would leave in_flight below zero.
   */
  end(call: OpenCall, err: unknown, responseBytes: number): void {
    if (call.ended) return;
    const { span, names } = call;
    const failed = err !== null;
    call.ended = true;
    if (!this.metrics) call.stream?.finish(names.attributes);
    else {
      if (call.inFlight) this.metrics.ended(call.inFlight);
      // A server's call of an action it does not have goes under `_OTHER`: the peer chose the name.
      const unknown = this.side === 'server' && isUnknownAction(err);
      // Only a handler's own answer vouches for the name: a cancel or a deadline can end a call the dispatch would refuse.
      if (err === null || err instanceof RemoteError) names.served = true;
      else if (unknown) {
        if (call.inFlight === names.attributes) this.refusesLate = true;
        names.provisional = false;
      }
      const recorded = unknown || !this.trusts(names) ? this.names.other : names;
      // Answered before the dispatch returned: never in flight, so no series would show the method idle.
      if (!call.inFlight && !recorded.idleShown) {
        recorded.idleShown = true;
        this.metrics.idle(recorded.attributes);
      }
      const outcome = failed ? this.names.failedAttributes(recorded, errorType(err)) : recorded.attributes;
      call.stream?.finish(recorded.attributes);
      this.metrics.finished(recorded.attributes, outcome, failed, performance.now() - call.startedAt, call.requestBytes, responseBytes);
    }
    if (failed) {
      span.setAttributes(errorAttributes(err));
      // Only the client's error says whether the call may have run: a server's span holds what its
      // handler failed with, which may be a downstream's refusal unrun passed on after it ran.
      if (this.side === 'client' && err instanceof RpcError) span.setAttribute(ATTR_SKEIN_ERROR_RETRY, err.retry);
      if (this.side === 'client' || isServerFault(err)) span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    }
    span.end();
  }

  /**
   * Whether a call goes under its own name in a server's metrics (a client named its actions
   * itself). Yes once an answer of its handler vouched for it (`served`). Before that, only
   * while the dispatch is not known to refuse late, and for the first MAX_PROVISIONAL such names:
   * a call cancelled or past its deadline before the dispatch refused it (a worker pool's queue
   * skips it) vouches for nothing, nor does a refusal such as Overloaded, and a peer that ends
   * every call of a made-up action so would otherwise add a series per name.
   */
  private trusts(names: ActionNames): boolean {
    if (this.side === 'client' || names.served || names.provisional) return true;
    if (this.refusesLate || !names.kept || this.provisionalLeft === 0) return false;
    this.provisionalLeft--;
    return (names.provisional = true);
  }
}

/** How many action names a server trusts before an answer vouched for them: what a peer can add. */
export const MAX_PROVISIONAL = 128;

const NoopMeter = createNoopMeter().constructor;

/**
 * The API hands out its no-op meter while no MeterProvider is registered, and a meter got then
 * stays a no-op (metrics have no proxy, unlike traces): recording into it would only cost.
 */
function isNoopMeter(meter: Meter): boolean {
  return meter.constructor === NoopMeter;
}
