import { metrics, type BatchObservableCallback, type Meter, type Observable } from '@opentelemetry/api';
import { AddressCap, DEFAULT_MAX_ADDRESSES } from './address-cap.js';
import { INSTRUMENTATION_NAME } from './options.js';
import { STATS_FAMILIES, type StatsFamily, type StatsSources } from './stats-samples.js';

export interface ObserveStatsOptions extends StatsSources {
  /** Where the gauges are made. Default: the global MeterProvider's meter for @skein/otel. */
  meter?: Meter | undefined;
  /**
   * How many distinct (pool, `address`) pairs get series of their own over the observation's
   * life, servers gone included (the SDK keeps their series too); later ones are summed under
   * `address` `_OTHER`. Default 256, below the SDK's default cardinality limit; 0 sums all.
   */
  maxAddresses?: number | undefined;
}

/** What `observeStats` returns: stop it when the servers and pools it reads are gone. */
export interface StatsObservation {
  /** Removes the callback: the instruments report nothing more. */
  stop(): void;
}

/**
 * `stats()` of servers and pools as OpenTelemetry observable instruments: gauges (and three
 * counters, connections accepted and refused, streams refused), read once per collection by one batch callback,
 * so every instrument of a collection sees the same reading. The names and attributes are
 * `prometheusText`'s (`skein.server.in_flight` is its `skein_server_in_flight`, with the same
 * `server`, `pool`, `address` and `state` labels): an OpenTelemetry Prometheus exporter shows the
 * same series.
 */
export function observeStats(opts: ObserveStatsOptions): StatsObservation {
  const meter = opts.meter ?? metrics.getMeter(INSTRUMENTATION_NAME);
  const sources: StatsSources = { servers: opts.servers, pools: opts.pools };
  const cap = new AddressCap(opts.maxAddresses ?? DEFAULT_MAX_ADDRESSES);
  const instruments = new Map<StatsFamily, Observable>();
  for (const f of STATS_FAMILIES) {
    const options = { description: f.help };
    instruments.set(f, f.type === 'counter' ? meter.createObservableCounter(f.name, options) : meter.createObservableGauge(f.name, options));
  }
  const callback: BatchObservableCallback = (result) => {
    cap.read(sources, (f, labels, value) => result.observe(instruments.get(f)!, value, labels));
  };
  const observables = [...instruments.values()];
  meter.addBatchObservableCallback(callback, observables);
  return { stop: () => meter.removeBatchObservableCallback(callback, observables) };
}
