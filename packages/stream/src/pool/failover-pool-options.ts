import type { Clock, Logger, OptionalFields, RemoteError, RpcError, Transport } from '@skein/core';
import type { CircuitBreakerOptions, CircuitState } from './circuit-breaker.js';
import type { ConnPoolOptions, ConnPoolStats } from './conn-pool-options.js';
import type { FailedAttempt, FailoverDecision } from './failover-rules.js';
import type { OutlierEjectionOptions } from './outlier-ejection.js';
import type { RedirectTargetOptions } from './redirect-targets.js';
import type { RetryBudgetOptions } from './retry-budget.js';
import type { Strategy } from './selection.js';

/*
 * Apart from FailoverPool (failover-pool.ts): what a user gives a failover pool, what it tells
 * them (membership and health events) and what its stats read, the contract the class keeps.
 */

/** A server: its address, or its address and weight (default 1, for 'weighted' and 'hash'). */
export type ServerSpec = string | { readonly address: string; readonly weight?: number | undefined };

export interface MembershipEvent {
  readonly type: 'add' | 'remove';
  readonly address: string;
  readonly weight: number;
  /** Set on the `add` of a server a redirect brought in: it leaves again when idle or pushed out. */
  readonly temporary?: boolean;
}

export interface FailoverPoolOptions {
  transport: Transport;
  servers: readonly ServerSpec[];
  /**
   * How a server is picked for each call. Default 'round-robin' (each call the next server);
   * 'round-robin-by-turn' puts the calls of one event-loop turn on one server and the next turn's
   * on the next: ~1.5× the calls/s at high load, as even over time, coarser within a burst.
   */
  strategy?: Strategy | undefined;
  /** Further attempts after the first, each on another server where there is one. Default 2. */
  retries?: number | undefined;
  /**
   * Caps each attempt of a call (not a stream) at this many ms (default: none), within its
   * `timeoutMs`, which bounds the whole call: an attempt gets the shorter of this and what is
   * left, so a slow server is given up for another (an idempotent call only: only those retry
   * after a Timeout) while time is left. A call's own `attemptTimeoutMs` wins over it.
   */
  attemptTimeoutMs?: number | undefined;
  /** Limits retries to a share of the traffic. Default: 10 % of first attempts, plus 10 a second. */
  retryBudget?: OptionalFields<RetryBudgetOptions> | undefined;
  /**
   * Decides what a failure means (undefined: the built-in rule). Lets a method's custom error
   * redirect to another server (`{ redirect: address }`), move on (`'next'`) or stop. It cannot
   * make a non-idempotent call that may have run run again: only an error that says it certainly
   * did not (`retry: 'safe'`) lets such a call move on; any other answer came from a server
   * that may have started the handler (a timeout, a lost connection, Internal, a custom error).
   */
  shouldFailover?: ((err: RpcError | RemoteError, attempt: FailedAttempt) => FailoverDecision | undefined) | undefined;
  /**
   * Bounds the servers that redirects to addresses not in the pool bring in: at most `max` (4)
   * at once, each leaving once idle for `idleTimeoutMs` (60 s). `max: 0` refuses such redirects.
   */
  redirectTargets?: OptionalFields<RedirectTargetOptions> | undefined;
  /** Options for every server's ConnPool. */
  pool?: Partial<Omit<ConnPoolOptions, 'transport' | 'address'>> | undefined;
  clock?: Clock | undefined;
  logger?: Logger | undefined;
  /** Told when a server joins or leaves (by `add`, `remove`, `replace`, or a redirect to a new address). */
  onMembershipChange?: ((event: MembershipEvent) => void) | undefined;
  /**
   * A circuit breaker per server (`{}` for the defaults; off unless given): a server whose calls
   * fail (Unreachable, IO, Timeout, Overloaded, Internal) at `failureRatio` over `windowMs`, with
   * at least `minCalls` calls, gets no calls for `openMs`, then `halfOpenCalls` probes decide.
   * A stream counts as a call: at its server's first item or credit (a success), else at its end;
   * a half-open probe stream silent for a call's timeout gives its place to another probe.
   */
  circuitBreaker?: OptionalFields<CircuitBreakerOptions> | undefined;
  /**
   * Takes a server whose failure share or latency stands out from the others' out of rotation
   * for a while (`{}` for the defaults; off unless given). Costs two clock reads per call.
   */
  outlierEjection?: OptionalFields<OutlierEjectionOptions> | undefined;
  /** Told when a server's breaker opens, goes half-open or closes, and when it is ejected or back. */
  onServerHealth?: ((event: ServerHealthEvent) => void) | undefined;
}

export interface ServerHealthEvent {
  readonly address: string;
  readonly kind: 'circuit-open' | 'circuit-half-open' | 'circuit-closed' | 'ejected' | 'restored';
  /** What led to it, as the log line says. */
  readonly why: string;
}

export interface ServerStats extends ConnPoolStats {
  address: string;
  weight: number;
  healthy: boolean;
  /** Its circuit breaker's state ('closed' when breakers are off). */
  circuit: CircuitState;
  /** Out of rotation as an outlier. */
  ejected: boolean;
}

/** The options every server's ConnPool is made with (`FailoverPoolOptions.pool`). */
export type MemberPoolOptions = Partial<Omit<ConnPoolOptions, 'transport' | 'address'>>;
