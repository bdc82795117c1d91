import type { Attributes, Counter, Histogram, Meter, UpDownCounter } from '@opentelemetry/api';

/** Milliseconds: fine below a millisecond (loopback calls), coarse up to the default 20 s timeout. */
const DURATION_BUCKETS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 20_000];
/** Items per stream: a few, or very many. */
const ITEM_BUCKETS = [0, 1, 2, 5, 10, 25, 50, 100, 250, 1000, 10_000, 100_000, 1_000_000];
/** Bytes, by powers of four up to the stream's 16 MiB message limit. */
const SIZE_BUCKETS = [0, 64, 256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216];

/**
 * One side's instruments. Names follow the RPC conventions where they define one
 * (`rpc.client.duration`, `rpc.client.request.size`...); the rest are Skein's own:
 * `skein.rpc.client.calls` (every finished call), `.errors` (failed ones, by `error.type`) and
 * `.in_flight`. A stream is a call to all of them, and also records, as the conventions ask of
 * streams, each item's size in `request.size`/`response.size` (per message) and its messages
 * each way in `rpc.client.requests_per_rpc`/`.responses_per_rpc` (the opening request and the
 * answer included, so a plain call would be 1 and 1: not recorded, to spare every call two).
 */
export class RpcMetrics {
  private readonly duration: Histogram;
  private readonly requestSize: Histogram;
  private readonly responseSize: Histogram;
  private readonly calls: Counter;
  private readonly errors: Counter;
  private readonly inFlight: UpDownCounter;
  private readonly requestsPerRpc: Histogram;
  private readonly responsesPerRpc: Histogram;

  constructor(meter: Meter, side: 'client' | 'server') {
    this.duration = meter.createHistogram(`rpc.${side}.duration`, {
      unit: 'ms',
      description: `How long ${side === 'client' ? 'calls took, from send to answer' : 'calls took, from dispatch to answer'}`,
      advice: { explicitBucketBoundaries: DURATION_BUCKETS_MS },
    });
    const sizes = { unit: 'By', advice: { explicitBucketBoundaries: SIZE_BUCKETS } };
    this.requestSize = meter.createHistogram(`rpc.${side}.request.size`, { ...sizes, description: 'Request payload: message and blob, without frame headers' });
    this.responseSize = meter.createHistogram(`rpc.${side}.response.size`, { ...sizes, description: 'Reply payload: message and blob (0 for an error)' });
    this.calls = meter.createCounter(`skein.rpc.${side}.calls`, { unit: '{call}', description: 'Calls finished, failed or not' });
    this.errors = meter.createCounter(`skein.rpc.${side}.errors`, { unit: '{call}', description: 'Calls that failed, by error.type' });
    this.inFlight = meter.createUpDownCounter(`skein.rpc.${side}.in_flight`, { unit: '{call}', description: 'Calls sent and not yet answered' });
    const perRpc = { unit: '{count}', advice: { explicitBucketBoundaries: ITEM_BUCKETS } };
    this.requestsPerRpc = meter.createHistogram(`rpc.${side}.requests_per_rpc`, { ...perRpc, description: 'Request messages per stream: the opening request and each item the client sent' });
    this.responsesPerRpc = meter.createHistogram(`rpc.${side}.responses_per_rpc`, { ...perRpc, description: 'Response messages per stream: each item the server sent and the answer' });
  }

  /** One item of a stream, sized as the conventions ask of streams: per message. */
  item(request: boolean, bytes: number, attributes: Attributes): void {
    (request ? this.requestSize : this.responseSize).record(bytes, attributes);
  }

  /** A stream ended: its messages each way. */
  streamFinished(attributes: Attributes, requests: number, responses: number): void {
    this.requestsPerRpc.record(requests, attributes);
    this.responsesPerRpc.record(responses, attributes);
  }

  started(attributes: Attributes): void {
    this.inFlight.add(1, attributes);
  }

  ended(attributes: Attributes): void {
    this.inFlight.add(-1, attributes);
  }

  /** Makes the action's `in_flight` series, at 0, when none of its calls was ever counted in flight. */
  idle(attributes: Attributes): void {
    this.inFlight.add(0, attributes);
  }

  /**
   * `attributes` are the action's as known at the end (a server's `_OTHER` when it had no such
   * action), `outcome` the same with `error.type` when the call failed. The request is sized
   * here, once it is known which action it was.
   */
  finished(attributes: Attributes, outcome: Attributes, failed: boolean, durationMs: number, requestBytes: number, responseBytes: number): void {
    this.duration.record(durationMs, outcome);
    this.requestSize.record(requestBytes, attributes);
    this.responseSize.record(responseBytes, attributes);
    this.calls.add(1, outcome);
    if (failed) this.errors.add(1, outcome);
  }
}
