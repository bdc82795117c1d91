import { defaultTextMapSetter, isSpanContextValid, trace, type Context, type TextMapPropagator } from '@opentelemetry/api';
import { metadataRecord, type Metadata } from '@skein/stream';

/**
 * A request's metadata with the trace context of `ctx` (the server span's) in place of the one
 * the client sent: what a dispatch behind `tracedDispatch` reads, so that one that hands the call
 * on to another thread (a WorkerPool) hands on the server span, as the parent of what the handler
 * does there. The same record when `ctx` has no valid span to hand on. The propagator's own keys
 * are dropped first, so that no entry of the client's outlives the context that replaces it.
 */
export function metadataWithContext(metadata: Metadata, ctx: Context, propagator: TextMapPropagator): Metadata {
  const span = trace.getSpanContext(ctx);
  if (span === undefined || !isSpanContextValid(span)) return metadata;
  const fields = propagator.fields();
  // A plain object (one made with no prototype is a slow dictionary in V8), so a key "__proto__"
  // is defined, not assigned: it stays an entry, as in the server's records.
  const entries: Record<string, string> = {};
  for (const key of Object.keys(metadata)) {
    if (fields.includes(key)) continue;
    if (key === '__proto__') Object.defineProperty(entries, key, { value: metadata[key], enumerable: true, writable: true, configurable: true });
    else entries[key] = metadata[key]!;
  }
  propagator.inject(ctx, entries, defaultTextMapSetter);
  return metadataRecord(entries);
}
