import { ErrorCode, RpcError, type Clock, type Logger, type Ticker } from '@skein/core';
import { isAuthRefusal } from '../client/credentials.js';
import { Backoff, type BackoffOptions } from './backoff.js';

/** What a pool's outage needs of its pool. */
export interface OutageLink {
  readonly address: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The backoff is over: connect again, if the pool is still backing off. */
  retry(): void;
}

/**
 * Whether a pool's server can be reached: since when not and why (what calls waiting in an
 * outage are failed with), and when to try again, as the backoff paces it: the next reconnect
 * of an outage, and another extra connection after one failed while others work. Out of the
 * pool because no call's path comes here: a call reads `refused` and `since` only when no connection is up.
 */
export class Outage {
  /** When the current outage began (the first failed connect or lost last connection); undefined while healthy. */
  since: number | undefined;
  /** No extra connection before this time (a scale-up connect just failed). */
  growAfter = 0;
  /**
   * The last connect failed with what no retry heals (`healsNot`): a new call fails with it at
   * once, not Unreachable and not after the next attempt. Cleared by a connect that succeeds.
   * Read per call that waits: one field, the error itself, shared (no allocation per call).
   */
  refused: RpcError | undefined;
  private lastError: Error | undefined;
  private readonly backoff: Backoff;
  private retryTimer: Ticker | undefined;

  constructor(
    backoff: Partial<BackoffOptions> | undefined,
    private readonly link: OutageLink,
  ) {
    this.backoff = new Backoff(backoff);
  }

  /** A connect failed, or the last connection was lost, with no other connect under way: an outage begins, or goes on. */
  failed(err: Error, now: number): void {
    const { logger, address } = this.link;
    if (this.since === undefined) {
      this.since = now;
      logger.warn({ address, err }, 'cannot reach server: backing off');
    } else {
      logger.debug({ address, err, attempts: this.backoff.attempts }, 'reconnect failed');
    }
    this.lastError = err;
    this.refused = healsNot(err) ? err : undefined;
  }

  /** New credentials: a refusal of the old ones says nothing of them (calls wait for the next connect again). */
  credentialsChanged(): void {
    if (isAuthRefusal(this.refused)) this.refused = undefined;
  }

  /** Waits out the next backoff delay, then asks the pool to connect again (`retry`). */
  backOff(): void {
    // At least 1 ms: a zero-delay ticker would spin on a manual clock.
    const delay = Math.max(1, this.backoff.next());
    this.retryTimer = this.link.clock.every(delay, () => {
      this.retryTimer?.stop();
      this.retryTimer = undefined;
      this.link.retry();
    });
  }

  /** The last connection was lost while another connect is under way: an outage, but no backoff yet. */
  lostLast(cause: Error, now: number): void {
    this.since ??= now;
    this.lastError = cause;
  }

  /** A scale-up failed while other connections work: try growing again later, not at once. */
  growFailed(err: Error, now: number): void {
    this.growAfter = now + this.backoff.next();
    this.link.logger.debug({ address: this.link.address, err }, 'extra connection failed');
  }

  /** A new connection answered its first ping: any outage is over, and the backoff starts over. */
  over(now: number): void {
    if (this.since !== undefined) {
      this.link.logger.info({ address: this.link.address, downMs: Math.round(now - this.since) }, 'reconnected');
    }
    this.backoff.reset();
    this.since = undefined;
    this.lastError = undefined;
    this.refused = undefined;
    this.growAfter = 0;
  }

  /** What a call that waited through the outage, or fails fast in it, is failed with. */
  unreachable(now: number): RpcError {
    const since = this.since ?? now;
    const why = this.lastError ? `: ${this.lastError.message}` : '';
    return new RpcError(ErrorCode.Unreachable, `cannot reach ${this.link.address} for ${Math.round(now - since)} ms${why}`, {
      cause: this.lastError,
      retry: 'safe',
    });
  }

  /** The pool closed: no more reconnects. */
  stop(): void {
    this.retryTimer?.stop();
    this.retryTimer = undefined;
  }
}

/**
 * A connect failed with what no retry heals: credentials refused (Unauthenticated,
 * PermissionDenied), or refused by the transport itself before any peer could answer (its own
 * options, a TLS key that is not its certificate's, or the address: InvalidArgument).
 */
const healsNot = (err: Error): err is RpcError => isAuthRefusal(err) || (err instanceof RpcError && err.code === ErrorCode.InvalidArgument);
