import { ErrorCode, RpcError, type Clock, type Logger, type Ticker } from '@skein/core';
import { isAuthRefusal } from '../client/credentials.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { MadeWith } from './pool-slot.js';

/** What a pool's outage needs of its pool. */
export interface OutageLink {
  readonly address: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The backoff is over: connect again, if the pool is still backing off. */
  retry(): void;
  /** Whether `refusal`, of a connect made with `made`, may be mended by what changed since (ConnOpener.outdated). */
  outdated(made: MadeWith, refusal: RpcError): boolean;
}

/**
 * Whether a pool's server can be reached: since when not and why (what calls waiting in an
 * outage are failed with), and when to try again, as the backoff paces it: the next reconnect
 * of an outage, and another extra connection after one failed while others work. Out of the
 * pool because no healthy call's path comes here: a call reads `refusal()`, `waitFrom` and
 * `hurrying` only when no connection is up, and a FailoverPool asks for an early connect
 * (`hurry`) only for a server that is down.
 */
export class Outage {
  /** When the current outage began (the first failed connect or lost last connection); undefined while healthy. */
  since: number | undefined;
  /**
   * What the connect budget of calls waiting in the outage runs from: its start, or the last time
   * a change of what connects are made with (reloadTls, renewCredentials) outdated its refusal
   * (`changed`): calls made after it wait for a connect with the new options, however long the
   * outage has lasted. Undefined while healthy.
   */
  waitFrom: number | undefined;
  /** No extra connection before this time (a scale-up connect just failed). */
  growAfter = 0;
  /**
   * The last connect failed with what no retry heals (`healsNot`): a new call fails with it at
   * once, not Unreachable and not after the next attempt. Cleared by a connect that succeeds, and
   * by a change it may not hold for (`changed`). Read through `refusal()`: one field, the error
   * itself, shared (no allocation per call).
   */
  private refused: RpcError | undefined;
  /** What the refused connect was made with: a change since may outdate the refusal. */
  private refusedWith: MadeWith | undefined;
  private _lastError: Error | undefined;
  private readonly backoff: Backoff;
  /** The one reconnect pending: a backoff delay's ticker. Armed only through `backOff`, at most one at a time. */
  private retryTimer: Ticker | undefined;
  /** The pool closed (`stop`): no delay is armed again, whatever a state callback did meanwhile. */
  private stopped = false;
  /** This outage's one early reconnect was asked for (`hurry`). */
  private hurried = false;
  /**
   * That early reconnect is under way: calls made meanwhile wait for its outcome, failing fast
   * or past the budget alike (WaitingCalls), and learn it from it: queued if it connects, failed
   * (those failing fast) once it is refused. Until the connect ends (`failed`, `over`) or the pool closes.
   */
  hurrying = false;

  constructor(
    backoff: Partial<BackoffOptions> | undefined,
    private readonly link: OutageLink,
  ) {
    this.backoff = new Backoff(backoff);
  }

  /**
   * A connect made with `made` failed, or the last connection (made with `made`) was lost, with no
   * other connect under way: an outage begins, or goes on. True when it was refused with options
   * changed since it began (a reloadTls or renewCredentials while it was under way): it says
   * nothing of the current ones, so the pool connects with them at once, not after a backoff.
   */
  failed(err: Error, now: number, made: MadeWith): boolean {
    const { logger, address } = this.link;
    if (this.since === undefined) {
      this.since = now;
      this.waitFrom = now;
      logger.warn({ address, err }, 'cannot reach server: backing off');
    } else {
      logger.debug({ address, err, attempts: this.backoff.attempts }, 'reconnect failed');
    }
    this._lastError = err;
    this.refused = undefined;
    this.hurrying = false;
    if (!healsNot(err)) return false;
    if (this.link.outdated(made, err)) {
      this.waitFrom = now;
      return true;
    }
    this.refused = err;
    this.refusedWith = made;
    return false;
  }

  /**
   * What a call made now fails with at once: the last connect's refusal (`refused`), unless what
   * connects are made with changed since in a way that may mend it (`changed`, which then drops
   * it: none). Read only while no connection is up.
   */
  refusal(): RpcError | undefined {
    return this.changed() ? undefined : this.refused;
  }

  /**
   * What connects are made with may have changed (a reloadTls, renewCredentials): when the last
   * connect's refusal may not hold for the current options (`OutageLink.outdated`), it is
   * dropped, the calls' connect budget starts over (they wait for a connect with the new options,
   * not Unreachable for the outage's length) and a pool backing off connects at once (a microtask
   * on). True when it dropped one. Two reads when nothing changed, no allocation.
   */
  changed(): boolean {
    const refused = this.refused;
    if (refused === undefined || !this.link.outdated(this.refusedWith!, refused)) return false;
    this.refused = undefined;
    this.refusedWith = undefined;
    this.waitFrom = this.link.clock.now();
    this.disarm();
    // Not from here: a call reads this before it is queued, and the connect tells onStateChange,
    // whose code may close the pool, which would leave that call in the queue of a closed pool,
    // never settled. A microtask on, it is queued (a close fails it); retry checks the state.
    queueMicrotask(this.retryNow);
    return true;
  }

  /**
   * Waits out the next backoff delay, then asks the pool to connect again (`retry`). Replaces any
   * delay still pending: the pool's onStateChange('backoff') runs just before this, and code of
   * its that re-enters (renewCredentials, a call after reloadTls: `changed`) may have left one.
   */
  backOff(): void {
    this.disarm();
    // The callback may have closed the pool: nothing to wait for.
    if (this.stopped) return;
    // At least 1 ms: a zero-delay ticker would spin on a manual clock.
    const delay = Math.max(1, this.backoff.next());
    this.retryTimer = this.link.clock.every(delay, this.retryNow);
  }

  /**
   * The delay is over, or a change asks for a connect at once (`changed`): whatever delay is
   * pending is spent, so that it cannot fire again later, early for the backoff that follows
   * (a ticker repeats until stopped), and the pool connects if it is still backing off.
   */
  private readonly retryNow = (): void => {
    this.disarm();
    this.link.retry();
  };

  /**
   * A call is about to wait for this server with no other one to go to: the pool connects now,
   * not at the end of its delay (a microtask on, as `changed`: the call is queued first), once
   * per outage, and calls made until that connect ends wait for it (`hurrying`). The outage may be
   * stale (its server listening again, the delay not over, the budget spent); once only, so that
   * a server truly down is not connected to per call, and its backoff paces the rest.
   */
  hurry(): void {
    if (this.hurried || this.stopped || this.since === undefined) return;
    this.hurried = true;
    this.hurrying = true;
    this.disarm();
    queueMicrotask(this.retryNow);
  }

  private disarm(): void {
    this.retryTimer?.stop();
    this.retryTimer = undefined;
  }

  /** The last connection was lost while another connect is under way: an outage, but no backoff yet. */
  lostLast(cause: Error, now: number): void {
    this.since ??= now;
    this.waitFrom ??= now;
    this._lastError = cause;
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
    this.waitFrom = undefined;
    this._lastError = undefined;
    this.refused = undefined;
    this.refusedWith = undefined;
    this.growAfter = 0;
    this.hurried = false;
    this.hurrying = false;
  }

  /**
   * Why the server cannot be reached: the last connect's error (or the last connection's loss,
   * while a connect is under way); undefined while healthy. What a call that waited out its own
   * timeout for a connection names as its cause (WaitingCalls), as Unreachable does.
   */
  get lastError(): Error | undefined {
    return this._lastError;
  }

  /** What a call that waited through the outage, or fails fast in it, is failed with. */
  unreachable(now: number): RpcError {
    const since = this.since ?? now;
    const why = this._lastError ? `: ${this._lastError.message}` : '';
    return new RpcError(ErrorCode.Unreachable, `cannot reach ${this.link.address} for ${Math.round(now - since)} ms${why}`, {
      cause: this._lastError,
      retry: 'safe',
    });
  }

  /** The pool closed: no more reconnects. */
  stop(): void {
    this.stopped = true;
    this.hurrying = false;
    this.disarm();
  }
}

/**
 * A connect failed with what no retry heals: credentials refused (Unauthenticated,
 * PermissionDenied), or refused by the transport itself before any peer could answer (its own
 * options, a TLS key that is not its certificate's, or the address: InvalidArgument).
 */
const healsNot = (err: Error): err is RpcError => isAuthRefusal(err) || (err instanceof RpcError && err.code === ErrorCode.InvalidArgument);
