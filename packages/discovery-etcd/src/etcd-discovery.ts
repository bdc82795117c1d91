import { guardedLogger, invalidArgument, refuseRenamed, silentLogger, timerPeriod, type Clock, type Logger, type OptionalFields } from '@skein/core';
import { Backoff, DiscoveryFeed, type BackoffOptions, type Discovery, type DiscoveryEvent, type Watch } from '@skein/stream';
import type { Etcd3 } from 'etcd3';
import { checkedPrefix } from './etcd-entry.js';
import { PrefixWatch } from './prefix-watch.js';
import { CHECK_EVERY_MS } from './watch-check.js';

export interface EtcdDiscoveryOptions {
  /** Your etcd3 client (hosts, TLS, auth are set there); closing it is yours too. */
  client: Etcd3;
  /** The key prefix entries live under, as `<prefix>/<type>/<id>`. Default `skein/servers`. */
  prefix?: string | undefined;
  logger?: Logger | undefined;
  clock?: Clock | undefined;
  /** Delays between attempts to reach etcd again (full jitter), as a ConnPool's `backoff`. Default: 100 ms doubling to 5 s. */
  backoff?: OptionalFields<BackoffOptions> | undefined;
  /**
   * How often a live watch is checked against etcd (one bounded read, keys only, one key sent back),
   * in ms: one found behind twice in a row is resumed on another member. Default 3000; above 0, at
   * most 2^31-1.
   */
  checkEveryMs?: number | undefined;
}

/** The client side: watches every entry under the prefix, of every type. */
export class EtcdDiscovery implements Discovery {
  private readonly prefix: string;
  private readonly checkEveryMs: number;

  constructor(private readonly opts: EtcdDiscoveryOptions) {
    if (!opts?.client) throw invalidArgument('EtcdDiscovery needs an etcd3 client');
    this.prefix = checkedPrefix(opts.prefix);
    // Renamed to match ConnPool's: a plain-JS caller's old name must not be ignored without a word.
    refuseRenamed(opts, 'retry', 'backoff', 'EtcdDiscovery');
    new Backoff(opts.backoff); // checked now, not at the first watch
    this.checkEveryMs = timerPeriod(opts.checkEveryMs ?? CHECK_EVERY_MS, 'EtcdDiscovery: checkEveryMs');
  }

  watch(onChange: (event: DiscoveryEvent) => void): Watch {
    const { client, logger, clock, backoff } = this.opts;
    let prefixWatch: PrefixWatch | undefined;
    const feed = new DiscoveryFeed(onChange, { name: 'etcd', logger, clock, onClose: () => prefixWatch?.close() });
    prefixWatch = new PrefixWatch({ client, prefix: this.prefix, feed, logger: guardedLogger(logger ?? silentLogger), backoff, checkEveryMs: this.checkEveryMs });
    prefixWatch.start();
    return feed;
  }
}
