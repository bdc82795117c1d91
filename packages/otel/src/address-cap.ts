import { invalidArgument } from '@skein/core';
import { readStats, type Labels, type PutSample, type StatsFamily, type StatsSources } from './stats-samples.js';

/** The `address` under which `observeStats` sums the pool servers past its cap. */
export const OTHER_ADDRESS = '_OTHER';

/**
 * Default cap: a pool server gives up to 5 attribute sets per instrument (`skein.pool.state`'s
 * one per state), so 256 addresses stay below the SDK's default cardinality limit (2,000).
 */
export const DEFAULT_MAX_ADDRESSES = 256;

interface Summed {
  readonly family: StatsFamily;
  readonly labels: Labels;
  value: number;
}

/**
 * Bounds the `address` attributes `observeStats` hands the SDK over its life. Why: the
 * OpenTelemetry JavaScript SDK keeps every attribute set an observable instrument ever reported
 * (its memo is never pruned, under delta temporality too), up to its cardinality limit; past it,
 * every new set, live servers' included, is one `otel.metric.overflow` point. A FailoverPool
 * following discovery meets new addresses with every deploy, so the first `max` (pool, address)
 * pairs keep their own series and later ones are summed under `address` `_OTHER` (a state's
 * point then counts the servers in it). Memory here is the `max` pairs.
 */
export class AddressCap {
  private readonly named = new Set<string>();

  constructor(private readonly max: number) {
    // NaN would keep every address (no size is >= NaN): the growth this cap is for.
    if (!(Number.isSafeInteger(max) && max >= 0)) throw invalidArgument(`observeStats: maxAddresses must be an integer of 0 or more, got ${max}`);
  }

  /** One reading of `sources` to `put`, the servers past the cap summed, once each, at the end. */
  read(sources: StatsSources, put: PutSample): void {
    const summed = new Map<string, Summed>();
    readStats(sources, (family, labels, value) => {
      const address = labels.address;
      if (address === undefined || this.keeps(`${labels.pool}\0${address}`)) return put(family, labels, value);
      const key = `${family.name}\0${labels.pool}\0${labels.state ?? ''}`;
      const s = summed.get(key);
      if (s) s.value += value;
      else summed.set(key, { family, labels: { ...labels, address: OTHER_ADDRESS }, value });
    });
    for (const s of summed.values()) put(s.family, s.labels, s.value);
  }

  private keeps(pair: string): boolean {
    if (this.named.has(pair)) return true;
    if (this.named.size >= this.max) return false;
    this.named.add(pair);
    return true;
  }
}
