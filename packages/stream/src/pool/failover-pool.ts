import {
  EMPTY_BYTES,
  ErrorCode,
  MAX_TIMER_MS,
  RpcError,
  extended,
  formatAddress,
  fromDownstream,
  invalidArgument,
  refuseRenamed,
  parseAddress,
  silentLogger,
  guardedLogger,
  systemClock,
  type Clock,
  type Logger,
  type RemoteError,
  type Ticker,
  type Transport,
} from '@skein/core';
import type { Notify, Reply } from '../client/call.js';
import { positive, timerMs } from '../internals/checks.js';
import { TickClock } from '../internals/tick-clock.js';
import type { CallOptions } from '../client/call-options.js';
import { promised, type StreamCaller } from '../client/caller.js';
import { unopenedStreams, type StreamCall } from '../client/stream-call.js';
import { resolveStreamOptions, type StreamSettings } from '../client/options.js';
import { credentialsError, type Credentials } from '../client/credentials.js';
import { CircuitBreaker, circuitBreakerOptions, countsAgainstServer, type CircuitBreakerOptions, type CircuitState } from './circuit-breaker.js';
import { ConnPool, type ConnPoolOptions, type ConnPoolStats } from './conn-pool.js';
import { defaultDecision, finalError, mayHaveRun, mayRunTwice, openStreamFailure, outOfTime, type FailedAttempt, type FailoverDecision } from './failover-rules.js';
import { OutlierEjection, OutlierScore, outlierEjectionOptions, type OutlierEjectionOptions } from './outlier-ejection.js';
import { RedirectTargets, type RedirectTargetOptions } from './redirect-targets.js';
import { RetryBudget, type RetryBudgetOptions } from './retry-budget.js';
import { createSelector, type Selector, type ServerView, type Strategy } from './selection.js';
import { FailoverCall, type AttemptSettler } from './failover-call.js';
import { PoolServer } from './pool-server.js';

/** A server: its address, or its address and weight (default 1, for 'weighted' and 'hash'). */
export type ServerSpec = string | { readonly address: string; readonly weight?: number };

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
  strategy?: Strategy;
  /** Further attempts after the first, each on another server where there is one. Default 2. */
  retries?: number;
  /**
   * Caps each attempt of a call (not a stream) at this many ms (default: none), within its
   * `timeoutMs`, which bounds the whole call: an attempt gets the shorter of this and what is
   * left, so a slow server is given up for another (an idempotent call only: only those retry
   * after a Timeout) while time is left. A call's own `attemptTimeoutMs` wins over it.
   */
  attemptTimeoutMs?: number;
  /** Limits retries to a share of the traffic. Default: 10 % of first attempts, plus 10 a second. */
  retryBudget?: Partial<RetryBudgetOptions>;
  /**
   * Decides what a failure means (undefined: the built-in rule). Lets a method's custom error
   * redirect to another server (`{ redirect: address }`), move on (`'next'`) or stop. It cannot
   * make a non-idempotent call that may have run run again: only an error that says it certainly
   * did not (`retry: 'safe'`) lets such a call move on; any other answer came from a server
   * that may have started the handler (a timeout, a lost connection, Internal, a custom error).
   */
  shouldFailover?: (err: RpcError | RemoteError, attempt: FailedAttempt) => FailoverDecision | undefined;
  /**
   * Bounds the servers that redirects to addresses not in the pool bring in: at most `max` (4)
   * at once, each leaving once idle for `idleTimeoutMs` (60 s). `max: 0` refuses such redirects.
   */
  redirectTargets?: Partial<RedirectTargetOptions>;
  /** Options for every server's ConnPool. */
  pool?: Partial<Omit<ConnPoolOptions, 'transport' | 'address'>>;
  clock?: Clock;
  logger?: Logger;
  /** Told when a server joins or leaves (by `add`, `remove`, `replace`, or a redirect to a new address). */
  onMembershipChange?: (event: MembershipEvent) => void;
  /**
   * A circuit breaker per server (`{}` for the defaults; off unless given): a server whose calls
   * fail (Unreachable, IO, Timeout, Overloaded, Internal) at `failureRatio` over `windowMs`, with
   * at least `minCalls` calls, gets no calls for `openMs`, then `halfOpenCalls` probes decide.
   * A stream counts as a call: at its server's first item or credit (a success), else at its end;
   * a half-open probe stream silent for a call's timeout gives its place to another probe.
   */
  circuitBreaker?: Partial<CircuitBreakerOptions>;
  /**
   * Takes a server whose failure share or latency stands out from the others' out of rotation
   * for a while (`{}` for the defaults; off unless given). Costs two clock reads per call.
   */
  outlierEjection?: Partial<OutlierEjectionOptions>;
  /** Told when a server's breaker opens, goes half-open or closes, and when it is ejected or back. */
  onServerHealth?: (event: ServerHealthEvent) => void;
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

const isHealthy = (m: PoolServer): boolean => m.healthy && m.admitted;
const isAdmitted = (m: PoolServer): boolean => m.admitted;
const breakerAdmits = (m: PoolServer): boolean => m.breaker === undefined || m.breaker.admits();

/**
 * Many servers behind one Caller: picks a server per call (round-robin, leader, weighted,
 * least-active, consistent hash, or your function), skips unhealthy ones, and retries a failed
 * call on another server only when that cannot run it twice (unless it is idempotent), within
 * a retry budget. Servers join and leave at run time.
 */
export class FailoverPool implements StreamCaller, AttemptSettler {
  private readonly transport: Transport;
  private readonly retries: number;
  private readonly attemptTimeoutMs: number | undefined;
  private readonly budget: RetryBudget;
  private readonly selector: Selector<PoolServer>;
  private readonly shouldFailover: FailoverPoolOptions['shouldFailover'];
  private poolOpts: Partial<Omit<ConnPoolOptions, 'transport' | 'address'>>;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly onMembershipChange: FailoverPoolOptions['onMembershipChange'];
  private readonly onServerHealth: FailoverPoolOptions['onServerHealth'];
  private readonly breakerOpts: CircuitBreakerOptions | undefined;
  private readonly ejection: OutlierEjection | undefined;
  /** Servers get an outlier score (set before the first join; `ejection` starts after it). */
  private readonly ejectionOn: boolean;
  private members: PoolServer[] = [];
  /**
   * What the strategy picks from: the members, but for a server only a redirect brought in,
   * which is reached by redirects alone (else it would take a share of every call, a hash
   * ring's keys among them, and never be idle enough to leave). A strategy that follows
   * redirects (`'leader'`) picks from all of them.
   */
  private pickable: PoolServer[] = [];
  private readonly byAddress = new Map<string, PoolServer>();
  private readonly redirects: RedirectTargets<PoolServer>;
  /** Pools of removed servers, still draining. */
  private readonly draining = new Set<Promise<void>>();
  private closing: Promise<void> | undefined;
  private makeStream: ((opts: CallOptions) => StreamCall) | undefined;
  private settings: StreamSettings | undefined;
  /**
   * Ticked time, for calls' deadlines across their attempts (no clock read per call, as the
   * streams' own deadlines); made at the first call.
   */
  private pace: TickClock | undefined;
  /** A call's timeout when it has none of its own: the ConnPools' stream default (set with `pace`). */
  private defaultTimeoutMs = 0;

  constructor(opts: FailoverPoolOptions) {
    if (!opts?.transport) throw invalidArgument('FailoverPool needs a transport');
    this.transport = opts.transport;
    const retries = opts.retries ?? 2;
    if (!(Number.isInteger(retries) && retries >= 0)) throw invalidArgument(`retries must be a non-negative integer, got ${retries}`);
    this.retries = retries;
    this.attemptTimeoutMs = opts.attemptTimeoutMs === undefined ? undefined : positive(opts.attemptTimeoutMs, 'attemptTimeoutMs');
    this.clock = opts.clock ?? opts.pool?.clock ?? systemClock;
    // Its lines come on the way to calls' outcomes (a breaker that opens): one it cannot write must not stop those.
    this.logger = guardedLogger(opts.logger ?? opts.pool?.logger ?? silentLogger);
    this.budget = new RetryBudget(opts.retryBudget, this.clock);
    this.selector = createSelector<PoolServer>(opts.strategy ?? 'round-robin');
    this.shouldFailover = opts.shouldFailover;
    this.poolOpts = opts.pool ?? {};
    // Each server's ConnPool is made at its first call: refused only there, it would fail every call.
    refuseRenamed(this.poolOpts, 'idleMs', 'idleTimeoutMs', 'FailoverPool', 'pool.');
    if (this.poolOpts.stream) refuseRenamed(this.poolOpts.stream, 'streamWindow', 'streamWindowBytes', 'ClientStream', 'pool.stream.');
    this.onMembershipChange = opts.onMembershipChange;
    this.onServerHealth = opts.onServerHealth;
    this.breakerOpts = opts.circuitBreaker ? circuitBreakerOptions(opts.circuitBreaker) : undefined;
    const ejection = opts.outlierEjection ? outlierEjectionOptions(opts.outlierEjection) : undefined;
    this.ejectionOn = ejection !== undefined;
    this.redirects = new RedirectTargets<PoolServer>(opts.redirectTargets, this.clock, (m, why) => this.dropRedirectTarget(m, why));
    for (const s of uniqueServers(opts.servers ?? [])) this.join(s.address, s.weight, false);
    this.membershipChanged();
    this.ejection = ejection && new OutlierEjection(ejection, this.clock, () => this.scored(), (m, out, why) => this.ejectionChanged(m.address, out, why));
  }

  /** The servers, in the order they joined. */
  servers(): ServerView[] {
    return this.members.map(({ address, weight, healthy, inFlight }) => ({ address, weight, healthy, inFlight }));
  }

  stats(): ServerStats[] {
    return this.members.map((m) => ({
      address: m.address,
      weight: m.weight,
      healthy: m.healthy,
      circuit: m.breaker?.state ?? 'closed',
      ejected: m.score?.ejected ?? false,
      // A server never connected to is idle, or closed with the FailoverPool: no stats reader shows it after.
      ...(m.pool?.stats() ?? { state: this.closing ? 'closed' : 'idle', inFlight: 0, queued: 0, connections: 0 }),
    }));
  }

  /** Adds a server (or updates its weight); true when it was not in the pool. */
  add(server: ServerSpec): boolean {
    this.checkOpen();
    const { address, weight } = normalize(server);
    const added = this.join(address, weight, true);
    this.membershipChanged();
    return added;
  }

  /**
   * Removes a server: no new call goes to it, its calls in flight finish. Resolves when its
   * connections are closed.
   */
  remove(address: string): Promise<void> {
    let key: string;
    try {
      key = canonical(address);
    } catch (err) {
      return Promise.reject(err);
    }
    const done = this.leave(key);
    this.membershipChanged();
    return done;
  }

  /** Makes the pool's servers exactly these: adds the new, removes the missing, keeps (and reuses the pools of) the rest. */
  replace(servers: readonly ServerSpec[]): Promise<void> {
    let next: { address: string; weight: number }[];
    try {
      this.checkOpen();
      next = uniqueServers(servers);
    } catch (err) {
      return Promise.reject(err);
    }
    const keep = new Set(next.map((s) => s.address));
    const removed = this.members.filter((m) => !keep.has(m.address)).map((m) => this.leave(m.address));
    for (const s of next) this.join(s.address, s.weight, true);
    this.membershipChanged();
    return Promise.all(removed).then(() => undefined);
  }

  call(action: string | number, msg: Uint8Array = EMPTY_BYTES, opts: CallOptions = {}): Promise<Reply> {
    return promised(this, action, msg, opts);
  }

  /** Sends a call to a server the strategy picks, failing over as the retry rules allow. */
  send(action: string | number, msg: Uint8Array, opts: CallOptions, notify: Notify): void {
    if (this.closing) return notify(this.closedError(), null);
    const c = new FailoverCall(this, action, msg, opts, notify);
    c.deadline = this.deadlineOf(opts.timeoutMs);
    if (opts.attemptTimeoutMs !== undefined || this.attemptTimeoutMs !== undefined) {
      const bad = this.capFirst(c);
      if (bad) return notify(fromDownstream(bad), null);
    }
    this.budget.deposit();
    this.attempt(c);
  }

  /**
   * Opens a stream (see `ClientStream.openStream`) on a server the strategy picks. It fails over
   * as a call does (within `retries` and the budget, and within its own `timeoutMs`, which
   * bounds all its attempts; `attemptTimeoutMs` does not apply, as it would end an open stream) until
   * it is open; after, only when its server refuses it unrun before it said anything of it
   * (`openStreamFailure`), with the items written meanwhile, which are kept (at most its window)
   * and written again on the next server; any other error ends it. Its final error says how many
   * attempts it took, as a call's does.
   */
  openStream(action: string | number, msg: Uint8Array = EMPTY_BYTES, opts: CallOptions = {}): StreamCall {
    const stream = this.streamMaker()(opts);
    // Kept only where it may move: with no retries, nothing is written again.
    if (this.retries > 0) stream.keepWrites();
    const c = new FailoverCall(this, action, msg, opts, (err) => {
      if (err) stream.finish(err, null);
    });
    c.stream = stream;
    if (this.closing) stream.finish(this.closedError(), null);
    else {
      // A stream without a timeout of its own has no bound, as on a ConnPool: its attempts go with its options as they are.
      c.deadline = opts.timeoutMs === undefined ? Infinity : this.deadlineOf(opts.timeoutMs);
      this.budget.deposit();
      this.attempt(c);
    }
    return stream;
  }

  /**
   * Sends a call to one named server, without failover. It counts for the server's breaker and
   * outlier score as the pool's own calls do, though no breaker stops it: the caller chose the
   * server. An address not in the pool fails at once with InvalidArgument.
   */
  sendTo(address: string, action: string | number, msg: Uint8Array, opts: CallOptions, notify: Notify): void {
    const member = this.named(address);
    if (member instanceof RpcError) return notify(fromDownstream(member), null);
    if (member.breaker === undefined && member.score === undefined) return this.poolOf(member).send(action, msg, opts, notify);
    // Counted for its server as the pool's own calls are: a cluster that routes every call by
    // name (a route function, `$to`) would otherwise leave its breakers and scores blind.
    const startedAt = member.score === undefined ? 0 : this.clock.now();
    this.poolOf(member).send(action, msg, opts, (err, reply) => {
      this.observe(member, err, member.score === undefined ? 0 : this.clock.now() - startedAt);
      notify(err, reply);
    });
  }

  /**
   * Opens a stream (see `openStream`) on one named server, without failover: it goes through
   * that server's ConnPool, waits for a connection there as its calls do (`opts.failFast`, the
   * connect budget), and fails with that server's error, never moving to another. It counts for
   * the server's breaker and outlier score as the pool's own streams do, though no breaker
   * stops it (as none stops `sendTo`). An address not in the pool fails it at once with
   * InvalidArgument.
   */
  openStreamTo(address: string, action: string | number, msg: Uint8Array = EMPTY_BYTES, opts: CallOptions = {}): StreamCall {
    const stream = this.streamMaker()(opts);
    const member = this.named(address);
    if (member instanceof RpcError) {
      stream.finish(member, null);
      return stream;
    }
    if (member.breaker !== undefined || member.score !== undefined) this.scorePinned(member, stream);
    return this.poolOf(member).openOn(stream, action, msg, opts, opts.failFast === true);
  }

  /** The server at `address` (any spelling of it), marked used; or the error a call to it fails with. */
  private named(address: string): PoolServer | RpcError {
    if (this.closing) return this.closedError();
    // Callers mostly pass the address as the pool knows it: canonicalize only on a miss.
    let member = this.byAddress.get(address);
    if (!member) {
      try {
        member = this.byAddress.get(canonical(address));
      } catch (err) {
        return err instanceof RpcError ? err : invalidArgument(`not an address: ${String(address)}`);
      }
    }
    if (!member) return invalidArgument(`server ${address} is not in the pool (${this.members.map((m) => m.address).join(', ') || 'empty'})`);
    member.used = true;
    return member;
  }

  /** A pinned stream counts for its server as an attempt of `openStream` does: its failure to open, else how it went once open. */
  private scorePinned(m: PoolServer, stream: StreamCall): void {
    const startedAt = m.score === undefined ? 0 : this.clock.now();
    const elapsed = (): number => (m.score === undefined ? 0 : this.clock.now() - startedAt);
    stream.onAttempt = (err) => {
      if (err === null) return this.watchOutcome(m, stream, elapsed());
      this.observe(m, err, elapsed());
      stream.finish(err, null); // nowhere else to go: it ends here
    };
  }

  /**
   * Renews the credentials on every open connection to every server (`ConnPool.renewCredentials`);
   * given `credentials`, they replace the `pool.stream.credentials` option, so that connections
   * opened later, to any server, present them too. Resolves when every server accepted them on
   * every open connection; rejects with the first refusal.
   */
  renewCredentials(credentials?: Credentials): Promise<void> {
    if (this.closing) return Promise.reject(this.closedError());
    const stream = this.poolOpts.stream;
    if (stream?.credentials === undefined) return Promise.reject(new RpcError(ErrorCode.Unauthenticated, 'no credentials on the pool: nothing to renew'));
    if (credentials !== undefined) {
      const bad = credentialsError(credentials, 'credentials');
      if (bad) return Promise.reject(bad);
      // Pools made later read these; each made already takes them below.
      this.poolOpts = { ...this.poolOpts, stream: { ...stream, credentials } };
    }
    const pools = this.members.flatMap((m) => (m.pool ? [m.pool.renewCredentials(credentials)] : []));
    return Promise.all(pools).then(() => undefined);
  }

  /** Stops taking calls; calls in flight finish. Resolves when every connection is closed. */
  close(): Promise<void> {
    this.redirects.stop();
    this.pace?.stop();
    this.ejection?.stop();
    this.closing ??= Promise.all([
      ...this.members.map((m) => m.pool?.close()),
      ...this.draining,
    ]).then(() => undefined);
    return this.closing;
  }

  /** @internal An attempt of `c` settled (for a stream: it failed before it opened). */
  settle(c: FailoverCall, err: RpcError | RemoteError | null, reply: Reply | null): void {
    const m = c.member!;
    if (m.breaker !== undefined || m.score !== undefined) this.observe(m, err, this.elapsed(m, c));
    if (!err) return c.notify(null, reply);
    this.failed(c, err);
  }

  /** `c`'s attempt failed: on to another server where the rules allow it, else the caller is told. */
  private failed(c: FailoverCall, err: RpcError | RemoteError): void {
    const decision = this.askHook(err, c) ?? defaultDecision(err, c.idempotent);
    if (decision === 'stop') return this.giveUp(c, err);
    // No hook may re-run a call that may have run (the built-in rule never asks to).
    if (mayRunTwice(err, c.idempotent)) {
      return this.giveUp(c, err, `shouldFailover asked for ${decisionName(decision)}; not done: the call may have run on ${c.address} and is not idempotent`);
    }
    const redirect = typeof decision === 'object';
    // A stream refused unsent by a server that speaks no streams (razor v1): the server is fine
    // and nothing reached it, so it moves as a redirect does, free of the budget.
    const unspoken = err instanceof RpcError && err.code === ErrorCode.Version && err.retry === 'safe' && c.stream !== undefined;
    if (!redirect && !unspoken) this.selector.failed?.(c.address);
    if (c.attempt >= this.retries) return this.giveUp(c, err, redirect ? 'redirect limit reached' : undefined);
    if (this.closing) return this.giveUp(c, err, 'pool closed');
    const late = this.retimed(c, err);
    if (late) return this.giveUp(c, late.err, late.why);
    // A redirect is the server telling us where to go, not a failure: it counts against
    // `retries` (so redirects cannot loop) but not against the retry budget.
    const refused = redirect ? this.redirect(c, decision.redirect) : this.spendRetry(unspoken);
    if (refused) return this.giveUp(c, err, refused);
    if (mayHaveRun(err)) c.mayHaveRunOn ??= c.address;
    c.attempt++;
    this.attempt(c);
  }

  /** Tells `c`'s caller its final error: what the last attempt (on `c.address`) met, and `why` it went no further. */
  private giveUp(c: FailoverCall, err: RpcError | RemoteError, why?: string): void {
    // A stream refused unrun everywhere: the items it wrote (and wrote again) were read by none.
    const unread = c.stream?.wrote === true && c.mayHaveRunOn === undefined && !mayHaveRun(err) ? 'none of the items it wrote were read' : undefined;
    if (unread) why = why ? `${why}; ${unread}` : unread;
    c.notify(finalError(err, { address: c.address, count: c.attempt + 1, idempotent: c.idempotent, mayHaveRunOn: c.mayHaveRunOn, why }), null);
  }

  /**
   * When a call given `timeoutMs` (undefined: the pool's default) is over, in ticked time: no
   * clock read. The time itself, not `TickClock.deadline`'s one period later (a tick's "surely
   * passed"): what is left of it is handed to a retry, whose own stream adds its own lateness.
   * NaN for a bad timeout, which the first attempt fails with (InvalidArgument).
   */
  private deadlineOf(timeoutMs: number | undefined): number {
    const pace = this.pace ?? this.startPace();
    const t = timeoutMs ?? this.defaultTimeoutMs;
    if (!(typeof t === 'number' && t > 0 && t < Infinity)) return NaN;
    // After `deadline`, which may quicken the ticks for a short timeout (and so its period).
    return pace.deadline(t) - pace.period;
  }

  /** The ticked clock, made at the first call: at the ConnPools' tick and default timeout, so that a call's bound is theirs. */
  private startPace(): TickClock {
    const s = this.streamSettings();
    const tickMs = timerMs(this.poolOpts.tickMs ?? s.tickMs, 'pool.tickMs');
    this.defaultTimeoutMs = s.timeoutMs;
    // Nothing to do at its ticks: deadlines are read at retries. Its ticker holds no process.
    this.pace = new TickClock(this.attemptsClock(), tickMs, s.timeoutMs, () => {});
    return this.pace;
  }

  /** The clock the attempts' timeouts are kept on: their ConnPools' (`poolOf`), and so their streams'. */
  private attemptsClock(): Clock {
    // As `poolOf` spreads them: a `pool.clock` given, even undefined, takes the pool's place.
    const given = Object.hasOwn(this.poolOpts, 'clock') ? this.poolOpts.clock : this.clock;
    return given ?? this.poolOpts.stream?.clock ?? systemClock;
  }

  /**
   * A call's first attempt cut short by `attemptTimeoutMs` (its own, else the pool's), when that
   * is shorter than the call's timeout; or the error a bad one of its own fails the call with.
   */
  private capFirst(c: FailoverCall): RpcError | undefined {
    const own = c.opts.attemptTimeoutMs;
    if (own !== undefined && !(typeof own === 'number' && own > 0 && own < Infinity)) return invalidArgument(`attemptTimeoutMs must be a positive number, got ${own}`);
    const cap = own ?? this.attemptTimeoutMs!;
    // A bad timeout of its own (no deadline) is left for its attempt to fail with, not hidden by the cap.
    if (Number.isNaN(c.deadline) || !(cap < (c.opts.timeoutMs ?? this.defaultTimeoutMs))) return undefined;
    c.sent = extended(c.opts, { timeoutMs: cap });
    c.capped = true;
    return undefined;
  }

  /**
   * Gives `c`'s next attempt what is left of the call's time (`attemptTimeoutMs` at most), so
   * that the deadline its server sees is what is left; or says, as its final error, that no time
   * is left. An attempt that had all that was left and timed out took it all, by its own stream's
   * clock (finer than the pool's): no retry then, not even with the sliver the pool's ticks may
   * still show.
   */
  private retimed(c: FailoverCall, err: RpcError | RemoteError): { err: RpcError | RemoteError; why: string | undefined } | undefined {
    // A stream without a timeout of its own: nothing bounds it. A bad timeout: its attempts fail with it.
    if (!(c.deadline < Infinity)) return undefined;
    const whole = c.opts.timeoutMs ?? this.defaultTimeoutMs;
    if (!c.capped && err instanceof RpcError && err.code === ErrorCode.Timeout) return { err, why: `not retried: its timeoutMs (${whole} ms) is spent` };
    const left = c.deadline - this.pace!.elapsed;
    if (!(left > 0)) return { err: outOfTime(err, whole), why: undefined };
    const cap = c.stream ? undefined : (c.opts.attemptTimeoutMs ?? this.attemptTimeoutMs);
    c.capped = cap !== undefined && cap < left;
    // In whole ms, rounded up (as a call's own timeout is): never short of what is left.
    c.sent = extended(c.opts, { timeoutMs: c.capped ? cap! : Math.ceil(left) });
    return undefined;
  }

  /** Pays for a retry that is no redirect out of the retry budget, unless it is `free`; or says why it cannot. */
  private spendRetry(free: boolean): string | undefined {
    return free || this.budget.tryWithdraw() ? undefined : 'not retried: retry budget exhausted';
  }

  /** Points `c`'s next attempt at `to`, bringing it into the pool for a while if it is new; or says why not. */
  private redirect(c: FailoverCall, to: string): string | undefined {
    let target: string;
    try {
      target = canonical(to);
    } catch {
      return `redirect to an invalid address ${JSON.stringify(to)}`;
    }
    if (this.byAddress.has(target)) this.redirects.touch(target);
    else if (!this.redirects.accepting) return `redirect to ${target}, a server not in the pool, refused (redirectTargets.max is 0)`;
    else this.joinTemporary(target, c.address);
    this.selector.redirected?.(target);
    c.redirect = target;
    return undefined;
  }

  /** `c`'s next attempt: on the server `choose` picks, or failed when there is none. */
  private attempt(c: FailoverCall): void {
    let member: PoolServer | undefined;
    try {
      member = this.choose(c);
    } catch (err) {
      return this.unplaced(c, pickerError(err));
    }
    if (!member) return this.unplaced(c, this.noServerError());
    this.begin(c, member);
  }

  /** Starts `c`'s attempt on `member`: noted for the retry rules, its breaker and outlier score, then handed to its ConnPool. */
  private begin(c: FailoverCall, member: PoolServer): void {
    c.member = member;
    c.probe = member.breaker?.sent();
    if (member.score !== undefined) c.startedAt = this.clock.now();
    c.address = member.address;
    c.tried.push(member.address);
    member.used = true;
    // With retries left, a call that meets an unreachable server comes back at once to go elsewhere.
    const failFast = c.attempt < this.retries && this.members.length > 1;
    const stream = c.stream;
    if (!stream) return this.poolOf(member).submit(c.action, c.msg, c.sent, c.done, failFast);
    if (stream.isDone) return; // cancelled between attempts
    stream.onAttempt = (err) => this.streamAttempted(c, stream, err);
    this.poolOf(member).openOn(stream, c.action, c.msg, c.sent, failFast);
  }

  /** `c`'s stream opened, or was refused before it opened. Once open, only its server's refusal unrun can still move it. */
  private streamAttempted(c: FailoverCall, stream: StreamCall, err: Error | null): void {
    if (err) return c.done(err as RpcError, null);
    stream.onAttempt = (late) => this.openStreamFailed(c, stream, late!);
    const m = c.member!;
    if (m.breaker !== undefined || m.score !== undefined) this.watchOutcome(m, stream, this.elapsed(m, c), c.probe, c.sent.timeoutMs);
  }

  /**
   * An open stream's attempt counts for its server once its server shows how it went, not at
   * the open (the OPEN was only written): at its first item or credit (the handler runs: a
   * success, as a call answered), or else at its end, as a call ending so counts (a refusal
   * after the open, Internal, Overloaded, Timeout, a lost connection count against the server).
   * Its latency is the time it took to open: a stream's length says nothing of its server.
   */
  private watchOutcome(m: PoolServer, stream: StreamCall, openedInMs: number, probe?: number, timeoutMs?: number): void {
    const giveUp = probe === undefined ? undefined : this.giveUpSilentProbe(m, probe, timeoutMs);
    stream.onOutcome = (err) => {
      giveUp?.stop();
      this.observe(m, err, openedInMs);
    };
  }

  /**
   * A half-open probe that is a stream may stay silent for good (a watch with nothing to say
   * yet), holding its place: its server would stay half-open, out of rotation, indefinitely.
   * After the time a call has (its own timeoutMs, else the pool's) its place goes to another
   * probe. Silence is not counted as a failure: a live server's handler may well be silent (a
   * dead one's connection fails keepalive, which ends the stream with IO, a failure).
   */
  private giveUpSilentProbe(m: PoolServer, round: number, timeoutMs: number | undefined): Ticker {
    const ms = Math.min(timeoutMs ?? this.streamSettings().timeoutMs, MAX_TIMER_MS);
    const timer = this.clock.every(ms, () => {
      timer.stop();
      this.logger.info({ address: m.address, silentMs: ms }, 'a probe stream said nothing within its call timeout: another probe may take its place');
      m.breaker!.release(round);
    });
    return timer;
  }

  /** `c`'s open stream failed. It moves as a call refused unrun would, if the rules let it (`openStreamFailure`). */
  private openStreamFailed(c: FailoverCall, stream: StreamCall, err: Error): void {
    const ends = openStreamFailure(err, stream, c.address, c.attempt + 1);
    if (ends) return stream.finish(ends, null);
    stream.unopened();
    this.failed(c, err as RpcError);
  }

  /** No server for `c`'s attempt: on a retry, the error says what earlier attempts may have done. */
  private unplaced(c: FailoverCall, err: RpcError): void {
    // The picker's word (a route naming no member, an address): about this call, not its caller's request.
    fromDownstream(err);
    if (c.attempt === 0) return c.notify(err, null);
    c.notify(finalError(err, { address: c.address, count: c.attempt, idempotent: c.idempotent, mayHaveRunOn: c.mayHaveRunOn }), null);
  }

  private membershipChanged(): void {
    this.pickable = this.selector.redirected !== undefined || this.redirects.size === 0 ? this.members : this.members.filter((m) => !this.redirects.has(m.address));
    this.selector.membershipChanged?.(this.pickable);
  }

  /** Healthy servers first, untried ones first; the strategy picks within each group. */
  private choose(c: FailoverCall): PoolServer | undefined {
    const key = c.opts.route;
    if (c.redirect !== undefined) {
      const target = this.byAddress.get(c.redirect);
      c.redirect = undefined;
      if (target) return target;
    }
    if (c.tried.length === 0) {
      return this.selector.pick(key, this.pickable, isHealthy) ?? this.selector.pick(key, this.pickable, isAdmitted) ?? this.lastResort(key);
    }
    const untried = (m: PoolServer): boolean => !c.tried.includes(m.address);
    return (
      this.selector.pick(key, this.pickable, (m) => isHealthy(m) && untried(m)) ??
      this.selector.pick(key, this.pickable, isHealthy) ??
      this.selector.pick(key, this.pickable, (m) => m.admitted && untried(m)) ??
      this.selector.pick(key, this.pickable, isAdmitted) ??
      this.lastResort(key)
    );
  }

  /**
   * Every server is ejected or its breaker is open: ejection gives way (it bounds how many it
   * takes out, not the breakers), an open breaker does not.
   */
  private lastResort(key: string | undefined): PoolServer | undefined {
    return this.ejection ? this.selector.pick(key, this.pickable, breakerAdmits) : undefined;
  }

  private noServerError(): RpcError {
    const why = this.members.length === 0 ? 'no servers in the pool' : `the circuit breaker of every server is open (${this.members.length})`;
    return new RpcError(ErrorCode.Unreachable, why, { retry: 'safe' });
  }

  /** How long `c`'s attempt has taken, for its server's outlier score (no clock read without one). */
  private elapsed(m: PoolServer, c: FailoverCall): number {
    return m.score === undefined ? 0 : this.clock.now() - c.startedAt;
  }

  /** Counts an attempt's outcome for its server's breaker and outlier score. */
  private observe(m: PoolServer, err: Error | null, latencyMs: number): void {
    const bad = err !== null && countsAgainstServer(err);
    if (m.breaker !== undefined) {
      if (bad) m.breaker.failed();
      else m.breaker.succeeded();
    }
    m.score?.record(latencyMs, bad);
  }

  private scored(): { address: string; score: OutlierScore }[] {
    return this.members.filter((m): m is PoolServer & { score: OutlierScore } => m.score !== undefined);
  }

  private circuitChanged(address: string, state: CircuitState, why: string): void {
    if (state === 'open') this.logger.warn({ address, why }, 'circuit breaker opened: no calls to this server for a while');
    else this.logger.info({ address, why }, state === 'closed' ? 'circuit breaker closed' : 'circuit breaker half-open: probing');
    this.tellHealth({ address, kind: `circuit-${state}`, why });
  }

  private ejectionChanged(address: string, ejected: boolean, why: string): void {
    if (ejected) this.logger.warn({ address, why }, 'server ejected as an outlier');
    else this.logger.info({ address, why }, 'ejected server back in rotation');
    this.tellHealth({ address, kind: ejected ? 'ejected' : 'restored', why });
  }

  /** The application's decision for a failed attempt, if it has one. */
  private askHook(err: RpcError | RemoteError, c: FailoverCall): FailoverDecision | undefined {
    if (!this.shouldFailover) return undefined;
    try {
      return this.shouldFailover(err, { action: c.action, address: c.address, attempt: c.attempt, idempotent: c.idempotent, route: c.opts.route });
    } catch (e) {
      this.logger.error({ err: e, address: c.address }, 'shouldFailover threw; using the built-in rule');
      return undefined;
    }
  }

  /** Streams are made as every server's ConnPool makes them (one set of stream options). */
  private streamMaker(): (opts: CallOptions) => StreamCall {
    if (!this.makeStream) {
      const s = this.streamSettings();
      this.makeStream = unopenedStreams(s.streamWindowBytes, s.limits);
    }
    return this.makeStream;
  }

  /** Every server's ConnPool's stream options, resolved once. */
  private streamSettings(): StreamSettings {
    return (this.settings ??= resolveStreamOptions(this.poolOpts.stream ?? {}, 'pool.stream.'));
  }

  private poolOf(m: PoolServer): ConnPool {
    m.pool ??= new ConnPool({ clock: this.clock, logger: this.logger, ...this.poolOpts, transport: this.transport, address: m.address });
    return m.pool;
  }

  /** Adds a configured server, or updates it; a server a redirect brought in becomes a configured one (announced again, without `temporary`). */
  private join(address: string, weight: number, announce: boolean): boolean {
    const known = this.byAddress.get(address);
    if (known) {
      known.weight = weight;
      if (!this.redirects.has(address)) return false;
      this.redirects.forget(address);
      if (announce) this.announce({ type: 'add', address, weight });
      return true;
    }
    this.enter(new PoolServer(address, weight));
    if (announce) this.announce({ type: 'add', address, weight });
    return true;
  }

  /** Brings in a server only a redirect named: bounded in number, and it leaves when idle. */
  private joinTemporary(address: string, from: string): void {
    this.logger.info({ address, from }, 'redirected to a server not in the pool: adding it while it is used');
    const m = new PoolServer(address, 1);
    this.enter(m);
    this.announce({ type: 'add', address, weight: 1, temporary: true });
    this.redirects.admit(m);
    this.membershipChanged();
  }

  private dropRedirectTarget(m: PoolServer, why: 'idle' | 'pushed out'): void {
    this.logger.info({ address: m.address, why }, 'a server a redirect brought in leaves the pool');
    void this.leave(m.address);
    this.membershipChanged();
  }

  private enter(m: PoolServer): void {
    if (this.breakerOpts) m.breaker = new CircuitBreaker(this.breakerOpts, this.clock, (state, why) => this.circuitChanged(m.address, state, why));
    if (this.ejectionOn) m.score = new OutlierScore();
    this.members = [...this.members, m];
    this.byAddress.set(m.address, m);
  }

  private leave(address: string): Promise<void> {
    const m = this.byAddress.get(address);
    if (!m) return Promise.resolve();
    this.redirects.forget(address);
    this.byAddress.delete(address);
    this.members = this.members.filter((x) => x !== m);
    this.announce({ type: 'remove', address, weight: m.weight });
    if (!m.pool) return Promise.resolve();
    const closed = m.pool.close();
    this.draining.add(closed);
    void closed.finally(() => this.draining.delete(closed));
    return closed;
  }

  private announce(event: MembershipEvent): void {
    this.tell(this.onMembershipChange, event, 'onMembershipChange');
  }

  private tellHealth(event: ServerHealthEvent): void {
    this.tell(this.onServerHealth, event, 'onServerHealth');
  }

  /** Tells an application hook; one that throws is logged and does not stop the pool. */
  private tell<E>(hook: ((event: E) => void) | undefined, event: E, name: string): void {
    if (!hook) return;
    try {
      hook(event);
    } catch (err) {
      this.logger.error({ err, event }, `${name} threw`);
    }
  }

  private checkOpen(): void {
    if (this.closing) throw this.closedError();
  }

  private closedError(): RpcError {
    return new RpcError(ErrorCode.Closed, 'failover pool is closed');
  }
}

/**
 * What a call fails with when a picker function throws. The application's own error (a
 * handler's constant, perhaps) is marked downstream on a copy: marked in place, the handler's
 * later throws of it would be withheld.
 */
function pickerError(err: unknown): RpcError {
  return err instanceof RpcError ? new RpcError(err.code, err.message, { cause: err, retry: err.retry, downstream: true }) : invalidArgument(`choosing a server failed: ${String(err)}`);
}

/** A decision as the final error's message names it. */
function decisionName(d: FailoverDecision): string {
  return typeof d === 'object' ? `a redirect to ${d.redirect}` : `'${d}'`;
}

/** The canonical form of an address, so that `tcp://h:1` and `h:1` are one server. */
function canonical(address: string): string {
  return formatAddress(parseAddress(address));
}

function normalize(server: ServerSpec): { address: string; weight: number } {
  const spec = typeof server === 'string' ? { address: server } : server;
  if (!spec || typeof spec.address !== 'string') throw invalidArgument(`not a server: ${JSON.stringify(server)}`);
  const weight = positive(spec.weight ?? 1, `weight of ${spec.address}`);
  return { address: canonical(spec.address), weight };
}

function uniqueServers(servers: readonly ServerSpec[]): { address: string; weight: number }[] {
  const seen = new Set<string>();
  const out = servers.map(normalize);
  for (const s of out) {
    if (seen.has(s.address)) throw invalidArgument(`server ${s.address} is listed twice`);
    seen.add(s.address);
  }
  return out;
}
