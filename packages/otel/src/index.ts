/**
 * @skein/otel: OpenTelemetry for Skein, on `@opentelemetry/api` alone (bring your SDK).
 *
 * - `tracedCaller(caller)`: a client span and client metrics per call and per stream, trace
 *   context sent in the call's (or the open's) metadata. Wraps any Caller; give the result to
 *   `createClient`, or to `createCluster`'s `wrapCaller`.
 * - `tracedDispatch(dispatch)`: a server span (continuing the client's trace) and server metrics
 *   per request and per stream, the handler running inside the span. Wraps any Dispatch.
 * - `inTraceContext(dispatch)`: in a `@skein/workers` module, runs the handlers in the server
 *   span's context that `tracedDispatch` handed on in the request's metadata.
 * - `prometheusText(...)`: `stats()` of servers and pools in the Prometheus text format.
 * - `observeStats(...)`: the same `stats()` as OpenTelemetry observable gauges.
 *
 * Nothing here is on any path unless you wrap with it: without @skein/otel, a call runs exactly
 * the code it ran before.
 */

// ── Tracing and metrics per call: wrap a Caller or a Dispatch
export { tracedCaller } from './traced-caller.js';
export type { TracedCallerOptions } from './traced-caller.js';
export { tracedDispatch } from './traced-dispatch.js';
export { inTraceContext } from './in-trace-context.js';
export type { OtelOptions } from './options.js';
export * as semconv from './semconv.js';

// ── Stats of servers and pools: Prometheus text, or OpenTelemetry gauges
export { prometheusText, PROMETHEUS_CONTENT_TYPE } from './prometheus-text.js';
export type { PrometheusSources } from './prometheus-text.js';
export { observeStats } from './observe-stats.js';
export type { ObserveStatsOptions, StatsObservation } from './observe-stats.js';
export type { StatsSources, ServerStatsSource, PoolStatsSource } from './stats-samples.js';
