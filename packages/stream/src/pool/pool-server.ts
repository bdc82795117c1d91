import type { CircuitBreaker } from './circuit-breaker.js';
import type { ConnPool } from './conn-pool.js';
import type { OutlierScore } from './outlier-ejection.js';
import type { RedirectTarget } from './redirect-targets.js';
import type { ServerView } from './selection.js';
import { shownServer } from './shown-server.js';

/**
 * One server of a FailoverPool: its address and weight, and what the pool keeps on it (its
 * ConnPool, breaker, outlier score). It is the view a strategy picks from, so that a pick reads
 * health and load off the server itself, with no lookup per call. Its ConnPool is created on
 * first use: a server never called costs no connection.
 */
export class PoolServer implements ServerView, RedirectTarget {
  pool: ConnPool | undefined;
  /** A call was sent to it since the last idle sweep (only read for servers a redirect brought in). */
  used = false;
  breaker: CircuitBreaker | undefined;
  score: OutlierScore | undefined;
  /**
   * `address` as the pool's log lines and errors name it (`shownServer`: a ws:// URL's query, a
   * token, left out), made once with the member: its key stays the identity, this is only printed.
   */
  readonly shown: string;

  constructor(
    /** Its key in the pool (`serverKey`): one server however it is spelled. */
    readonly address: string,
    public weight: number,
    /**
     * What its connections dial: the address as last given (a `ws://` kept, for the transport to
     * refuse or take); given again in another spelling, its connections from then on dial that.
     */
    private dial: string = address,
  ) {
    this.shown = shownServer(address);
  }

  get dialAddress(): string {
    return this.dial;
  }

  /** The server given again as `address` (another spelling of its key): its connections from now on dial that. */
  redial(address: string): void {
    if (address === this.dial) return;
    this.dial = address;
    this.pool?.redial(address);
  }

  get healthy(): boolean {
    return this.pool?.healthy ?? true;
  }

  get inFlight(): number {
    const p = this.pool;
    return p ? p.inFlight + p.queued : 0;
  }

  /** Its breaker lets a call through and it is not ejected. */
  get admitted(): boolean {
    return (this.breaker === undefined || this.breaker.admits()) && !(this.score !== undefined && this.score.ejected);
  }
}
