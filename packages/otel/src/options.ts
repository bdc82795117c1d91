import type { MeterProvider, TextMapPropagator, TracerProvider } from '@opentelemetry/api';

/** Where telemetry goes. Each defaults to the global one the application registered (a no-op until it does). */
export interface OtelOptions {
  tracerProvider?: TracerProvider | undefined;
  meterProvider?: MeterProvider | undefined;
  /** How trace context is written into and read from call metadata. Default: the global propagator (W3C `traceparent` with the Node SDK). */
  propagator?: TextMapPropagator | undefined;
  /**
   * How many items of a stream, each way, get an `rpc.message` span event (the RPC conventions'
   * message events). Every item is counted either way, on the span and in the metrics; the cap
   * keeps a long stream's span small. Default 16; 0 for none.
   */
  messageEvents?: number | undefined;
}

export const DEFAULT_MESSAGE_EVENTS = 16;

/** The instrumentation scope of every tracer and meter here. (No version: a copy of package.json's would drift from it.) */
export const INSTRUMENTATION_NAME = '@skein/otel';
