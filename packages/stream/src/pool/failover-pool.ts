import {
  EMPTY_BYTES,
  ErrorCode,
  RpcError,
  fromDownstream,
  invalidArgument,
  refuseRenamed,
  silentLogger,
  guardedLogger,
  systemClock,
  withDefaults,
  type Clock,
  type Logger,
  type RemoteError,
  type Transport,
} from '@skein/core';
import type { Notify, Reply } from '../client/call.js';
import { notifyGuarded } from '../internals/notify-guarded.js';
import { positive } from '../internals/checks.js';
import type { CallOptions } from '../client/call-options.js';
import { promised, type StreamCaller } from '../client/caller.js';
import { unopenedStreams, type StreamCall } from '../client/stream-call.js';
import { refusedForRoom } from '../client/room-refusal.js';
import { resolveStreamOptions, type StreamSettings } from '../client/options.js';
import { credentialsError, type Credentials } from '../client/credentials.js';
import { ConnPool } from './conn-pool.js';
import { connPoolSettings } from './conn-pool-settings.js';
import { abortedFinal, defaultDecision, finalError, mayHaveRun, mayRunTwice, openStreamFailure, outOfTime, overLimitsUnsent, type FailoverDecision } from './failover-rules.js';
import { abortedAlready } from '../client/call-abort.js';
import { RetryBudget } from './retry-budget.js';
import { createSelector, type Selector, type ServerView } from './selection.js';
import { FailoverCall, MAX_FREE_PLACEMENTS, type AttemptSettler } from './failover-call.js';
import type { PoolServer } from './pool-server.js';
import type { WaitingCall } from './connect-queue.js';
import { neverLeft } from './waiting-calls.js';
import { poolRemote } from './pool-remote.js';
import { shownServer } from './shown-server.js';
import type { FailoverPoolOptions, MemberPoolOptions, ServerSpec, ServerStats } from './failover-pool-options.js';
import type { ConnPoolOptions } from './conn-pool-options.js';
import { serverKey, normalize, uniqueServers, type NormalServer } from './server-specs.js';
import { Membership, type MembershipLink } from './membership.js';
import { ServerHealth, observe } from './server-health.js';
import { capFirst, retimed, startPace } from './call-deadlines.js';
import type { TickClock } from '../internals/tick-clock.js';

const isHealthy = (m: PoolServer): boolean => m.healthy && m.admitted;
const isAdmitted = (m: PoolServer): boolean => m.admitted;
const breakerAdmits = (m: PoolServer): boolean => m.breaker === undefined || m.breaker.admits();

/** What a moved call's share of its time is read for (`retimed`; a call placed for room too, `placeForRoom`): never its error, nor told to anyone. */
const MOVED = new RpcError(ErrorCode.Unreachable, 'moved, unsent, to a server that came up', { retry: 'safe' });

/** The strategy's list between a change and the next pick (never written). */
const NO_SERVERS: PoolServer[] = [];

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
  private poolOpts: MemberPoolOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  /** Its servers' breakers and outlier scores (`membership` gives each server joining its own). */
  private readonly health: ServerHealth;
  private readonly membership: Membership;
  /**
   * What the strategy picks from: the members, but for a server only a redirect brought in,
   * which is reached by redirects alone (else it would take a share of every call, a hash
   * ring's keys among them, and never be idle enough to leave). A strategy that follows
   * redirects (`'leader'`) picks from all of them. Read afresh at the first pick after a change
   * (`pickableStale`), so calls read it off this field, with no hop.
   */
  private pickable: PoolServer[] = [];
  private pickableStale = true;
  /** The membership's own map of the members by address (read, never written, here). */
  private readonly byAddress: ReadonlyMap<string, PoolServer>;
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
  /**
   * Calls whose attempt waits, never sent, in a pool with no connection up (`FailoverCall.waiting`),
   * by the server they wait on (only servers with some): the ones a server that comes up may take
   * (`moveWaiting`). Kept per server so that what looks at one server's calls (`leaving`, a server
   * going down) walks those alone, not every server's; a change that only removes servers walks
   * no others (it adds none that could take them), while a server up, added or readmitted walks
   * those of every server down, once a turn. Each leaves at its attempt's outcome
   * (`settle`), or at a walk of its server once sent: no more than the pools' queues hold, and calls on the wire.
   */
  private readonly waitingDown = new Map<PoolServer, Set<FailoverCall>>();
  /** A walk of `waitingDown` is queued (`queueMove`). */
  private moveQueued = false;
  /** The queued walk looks at every server's calls (one came up, joined, was readmitted), not only `movesFrom`'s. */
  private moveAll = false;
  /** Servers that went down since the last walk: theirs are the calls the queued walk looks at, unless `moveAll`. */
  private readonly movesFrom = new Set<PoolServer>();
  /**
   * Calls taken, unsent, off servers leaving the pool (`leaving`), and those their pools' close
   * failed unsent (`displace`), placed again once the change is over (`pickableChanged`), where
   * the servers that stay or join may take them. Defined from a change's first server leaving
   * until then: a change under way.
   */
  private displaced: FailoverCall[] | undefined;
  /** Who hears of its servers' state changes (`watchStates`): a discovery follower's held last server, one at most each. */
  private readonly stateWatchers = new Set<() => void>();
  /** A tell of `stateWatchers` is queued (`queueTell`). */
  private tellQueued = false;
  /**
   * The server a call's last redirect sent it to (`choose`): its word stands, so a call waiting
   * there for room stays (`placeForRoom`). Kept off the call, so that a call never redirected
   * carries nothing more; set on a redirect, read only for a call that waits for room.
   */
  private readonly redirectedTo = new WeakMap<FailoverCall, PoolServer>();

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
    // So is every other bad option of theirs (a window of 0, a backoff that shrinks): checked now, named `pool.`.
    this.settings = connPoolSettings(this.poolOpts, 'pool.').stream;
    const { clock, logger } = this;
    this.health = new ServerHealth({
      clock,
      logger,
      circuitBreaker: opts.circuitBreaker,
      outlierEjection: opts.outlierEjection,
      onServerHealth: opts.onServerHealth,
      servers: () => this.members,
      defaultTimeoutMs: () => this.streamSettings().timeoutMs,
      // A breaker closed, or an ejection over: a server healthy may take calls waiting on servers down.
      readmitted: () => this.queueMove(),
    });
    const setup = { clock, logger, redirectTargets: opts.redirectTargets, onMembershipChange: opts.onMembershipChange, picksRedirectTargets: this.selector.redirected !== undefined };
    const link: MembershipLink = {
      equip: (m) => this.health.equip(m),
      pickableChanged: (joined) => this.pickableChanged(joined),
      leaving: (m) => this.leaving(m),
    };
    this.membership = new Membership(setup, link, opts.servers ?? []);
    this.byAddress = this.membership.byAddress;
    this.health.start();
  }

  /** The members, in the order they joined (the membership's list as it is now). */
  private get members(): PoolServer[] {
    return this.membership.members();
  }

  /** See `Caller.timeoutMs`: its `pool.stream.timeoutMs`, the whole call's (all its attempts'). */
  get timeoutMs(): number {
    return this.streamSettings().timeoutMs;
  }

  /** Whether `close()` or `destroy()` was called: the pool takes no new call (a follower removes nothing from it). */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** How many servers the pool has now (`servers().length`, without building the list). */
  get size(): number {
    return this.byAddress.size;
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

  /**
   * Whether the server at `address` is a member with a connection that answers: its
   * pool is up (ready, or replacing a connection with no failure yet); not one never connected
   * to (idle), backing off, reconnecting after a failure, or closed. A server that said goodbye
   * closes its connections and then refuses new ones, so it stops answering here too.
   */
  answers(address: string): boolean {
    let key: string;
    try {
      key = serverKey(address);
    } catch {
      return false;
    }
    const pool = this.byAddress.get(key)?.pool;
    return pool !== undefined && pool.state !== 'idle' && pool.healthy;
  }

  /**
   * Calls `changed` after each state change of a server's pool and each change of its servers
   * (one added or removed, by hand or by a redirect), a microtask on (never within the change),
   * until the function returned is called.
   */
  watchStates(changed: () => void): () => void {
    const watcher = (): void => changed();
    this.stateWatchers.add(watcher);
    return () => this.stateWatchers.delete(watcher);
  }

  /** Adds a server (or updates its weight); true when it was not in the pool. */
  add(server: ServerSpec): boolean {
    this.checkOpen();
    return this.membership.add(normalize(server));
  }

  /**
   * Removes a server: no new call goes to it, its calls in flight finish. Resolves when its
   * connections are closed.
   */
  remove(address: string): Promise<void> {
    let key: string;
    try {
      key = serverKey(address);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.membership.remove(key);
  }

  /** Makes the pool's servers exactly these: adds the new, removes the missing, keeps (and reuses the pools of) the rest. */
  replace(servers: readonly ServerSpec[]): Promise<void> {
    let next: NormalServer[];
    try {
      this.checkOpen();
      next = uniqueServers(servers);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.membership.replace(next);
  }

  call(action: string | number, msg: Uint8Array = EMPTY_BYTES, opts: CallOptions = {}): Promise<Reply> {
    return promised(this, action, msg, opts);
  }

  /** Sends a call to a server the strategy picks, failing over as the retry rules allow. */
  send(action: string | number, msg: Uint8Array, opts: CallOptions, notify: Notify): void {
    if (this.closing) return notifyGuarded(this.logger, this.describePool, action, notify, this.closedError(), null);
    const c = new FailoverCall(this, action, msg, opts, notify, true);
    c.deadline = this.deadlineOf(opts.timeoutMs);
    if (opts.attemptTimeoutMs !== undefined || this.attemptTimeoutMs !== undefined) {
      const bad = capFirst(c, this.attemptTimeoutMs, this.defaultTimeoutMs);
      if (bad) return this.tell(c, fromDownstream(bad), null);
    }
    // Its own signal (or abort source) aborted already: it fails as a ClientStream or ConnPool
    // fails it (Cancelled, or Timeout for a timeout reason), before any pick, which with no
    // server placeable (all down, none in the pool) would say Unreachable instead.
    const aborted = abortedAlready(opts);
    if (aborted !== undefined) return this.tell(c, aborted, null);
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
    // Aborted already: as `send` (and a ConnPool) fails such a call, before any pick.
    const refused = this.closing ? this.closedError() : abortedAlready(opts);
    if (refused !== undefined) stream.finish(refused, null);
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
    if (member instanceof RpcError) return notifyGuarded(this.logger, shownServer(address), action, notify, fromDownstream(member), null);
    // Aborted already: as `send` fails it, whatever its server's pool (in an outage, it would say Unreachable).
    const aborted = abortedAlready(opts);
    if (aborted !== undefined) return notifyGuarded(this.logger, member.shown, action, notify, aborted, null);
    if (member.breaker === undefined && member.score === undefined) return this.poolOf(member).send(action, msg, opts, notify);
    // Counted for its server as the pool's own calls are: a cluster that routes every call by
    // name (a route function, `$to`) would otherwise leave its breakers and scores blind.
    const startedAt = member.score === undefined ? 0 : this.clock.now();
    this.poolOf(member).send(action, msg, opts, (err, reply) => {
      observe(member, err, member.score === undefined ? 0 : this.clock.now() - startedAt);
      notifyGuarded(this.logger, member.shown, action, notify, err, reply);
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
    // Its own signal aborted already: refused as its server's ConnPool would, before a connect or a breaker's count.
    const aborted = abortedAlready(opts);
    if (aborted !== undefined) {
      stream.finish(aborted, null);
      return stream;
    }
    if (member.breaker !== undefined || member.score !== undefined) this.health.scorePinned(member, stream);
    return this.poolOf(member).openOn(stream, action, msg, opts, opts.failFast === true);
  }

  /** The server at `address` (any spelling of it), marked used; or the error a call to it fails with. */
  private named(address: string): PoolServer | RpcError {
    if (this.closing) return this.closedError();
    // Callers mostly pass the address as the pool knows it: canonicalize only on a miss.
    let member = this.byAddress.get(address);
    if (!member) {
      try {
        member = this.byAddress.get(serverKey(address));
      } catch (err) {
        return err instanceof RpcError ? err : invalidArgument(`not an address: ${String(address)}`);
      }
    }
    if (!member) return invalidArgument(`server ${shownServer(address)} is not in the pool (${this.members.map((m) => m.shown).join(', ') || 'empty'})`);
    member.used = true;
    return member;
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

  /**
   * Stops taking calls; calls in flight and open streams finish (a stream without a `timeoutMs`
   * has no bound: cancel it, or `destroy()`). Resolves when every connection is closed.
   */
  close(): Promise<void> {
    this.pace?.stop();
    this.health.stop();
    if (this.closing) return this.closing;
    // Closing before the members' pools close: the calls their close fails (waiting for a
    // connection) must give up (`failed`), not move to another member, whose pool (made for it,
    // perhaps, after this close passed it by) would never be closed.
    let closed!: (all: Promise<void>) => void;
    this.closing = new Promise<void>((resolve) => (closed = resolve));
    closed(this.membership.close());
    return this.closing;
  }

  /**
   * Closes at once, as `close()` does but letting nothing finish: every unsettled call and open
   * stream fails, on every server and those removed and still draining (IO on the wire, Closed
   * while waiting for a connection; `ConnPool.destroy`), so that a process holding watches with
   * no deadline can end them all. `close()`'s promise then resolves once the connections are gone.
   */
  destroy(reason = 'pool destroyed'): void {
    void this.close();
    this.membership.destroy(reason);
  }

  /** @internal An attempt of `c` settled (for a stream: it failed before it opened). */
  settle(c: FailoverCall, err: RpcError | RemoteError | null, reply: Reply | null): void {
    if (c.waiting !== undefined) this.unpark(c);
    const m = c.member!;
    if (m.breaker !== undefined || m.score !== undefined) observe(m, err, this.elapsed(m, c), c.probe);
    if (!err) return this.tell(c, null, reply);
    this.failed(c, err);
  }

  /** `c`'s attempt failed: on to another server where the rules allow it, else the caller is told. */
  private failed(c: FailoverCall, err: RpcError | RemoteError, forRoom = false): void {
    // The caller's own doing, not the server's: nothing moves, no hook is asked, no budget is
    // spent, and the server is not marked failed (it saw nothing, or was given up on). It ends as
    // an aborted call does (Cancelled, or Timeout), whatever the last attempt met (`abortedFinal`).
    const aborted = abortedAlready(c.opts);
    if (aborted !== undefined) return this.giveUp(c, err, undefined, aborted);
    // Refused for room on its connection alone (its server's stream budget): the server is fine,
    // and another of its connections may have room.
    if (forRoom && this.placeAgainForRoom(c, err as RpcError)) return;
    if (overLimitsUnsent(err)) return this.giveUp(c, err, 'not tried on another server: the call is over the limits its server declared, which a fleet shares as a rule');
    if (this.displaced !== undefined && this.displace(c, err)) return;
    if (neverLeft(err) && this.placeAgainFree(c, err)) return;
    const decision = this.askHook(err, c) ?? defaultDecision(err, c.idempotent);
    if (decision === 'stop') return this.giveUp(c, err);
    // No hook may re-run a call that may have run (the built-in rule never asks to).
    if (mayRunTwice(err, c.idempotent)) {
      return this.giveUp(c, err, `shouldFailover asked for ${decisionName(decision)}; not done: the call may have run on ${c.member!.shown} and is not idempotent`);
    }
    const redirect = typeof decision === 'object';
    // A stream refused unsent by a server that speaks no streams (razor v1): the server is fine
    // and nothing reached it, so it moves as a redirect does, free of the budget.
    const unspoken = err instanceof RpcError && err.code === ErrorCode.Version && err.retry === 'safe' && c.stream !== undefined;
    // Nor does one refused for room on its connection (a healthy server's stream budget).
    if (!redirect && !unspoken && !forRoom) this.selector.failed?.(c.address);
    if (c.attempt >= this.retries) return this.giveUp(c, err, redirect ? 'redirect limit reached' : undefined);
    if (this.closing) return this.giveUp(c, err, 'pool closed');
    const late = retimed(c, err, this.pace, this.defaultTimeoutMs, this.attemptTimeoutMs);
    if (late) return this.giveUp(c, late.err, late.why);
    // A redirect is the server telling us where to go, not a failure: it counts against
    // `retries` (so redirects cannot loop) but not against the retry budget.
    const refused = redirect ? this.redirect(c, decision.redirect) : this.spendRetry(unspoken);
    if (refused) return this.giveUp(c, err, refused);
    if (mayHaveRun(err)) c.mayHaveRunOn ??= c.member!.shown;
    c.attempt++;
    this.attempt(c);
  }

  /**
   * Tells `c`'s caller its final error: what the last attempt (on `c.address`) met, and `why` it
   * went no further; or, `aborted` (its own signal or abort source), that abort's, in those words.
   */
  private giveUp(c: FailoverCall, err: RpcError | RemoteError, why?: string, aborted?: RpcError): void {
    // A stream refused unrun everywhere: the items it wrote (and wrote again) were read by none.
    const unread = c.stream?.wrote === true && c.mayHaveRunOn === undefined && !mayHaveRun(err) ? 'none of the items it wrote were read' : undefined;
    if (unread) why = why ? `${why}; ${unread}` : unread;
    const final = finalError(err, { address: c.member!.shown, count: c.attempt + 1, idempotent: c.idempotent, mayHaveRunOn: c.mayHaveRunOn, why });
    this.tell(c, aborted === undefined ? final : abortedFinal(aborted, final, err), null);
  }

  /** Pays for a retry that is no redirect out of the retry budget, unless it is `free`; or says why it cannot. */
  private spendRetry(free: boolean): string | undefined {
    return free || this.budget.tryWithdraw() ? undefined : 'not retried: retry budget exhausted';
  }

  /** Points `c`'s next attempt at `to`, bringing it into the pool for a while if it is new; or says why not. */
  private redirect(c: FailoverCall, to: string): string | undefined {
    const target = this.membership.redirectTo(to, c.member!.shown);
    if (typeof target !== 'string') return target.refused;
    this.selector.redirected?.(target);
    c.redirect = target;
    return undefined;
  }

  /** `c`'s next attempt: on the server `choose` picks, or failed when there is none. */
  private attempt(c: FailoverCall): void {
    // What an earlier attempt's server sent back is not the caller's: only the last one's is told.
    c.replyMetadata?.forget();
    c.stream?.forgetReplyMetadata();
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
    const failFast = c.attempt < this.retries && this.byAddress.size > 1;
    const stream = c.stream;
    if (stream?.isDone) return; // cancelled between attempts
    const pool = this.poolOf(member);
    // Down, and so is every other server (read only when this one is down): its outage may be
    // stale (its server listening again, its backoff delay not over), and failing fast on it
    // spent the call's retries and sent its last attempt back to the server just lost. So it
    // connects now, once per outage, and the call waits for that connect's outcome (ConnPool.hurry).
    if (!member.healthy && !this.healthyBesides(member)) pool.hurry();
    if (!stream) {
      const waiting = pool.submit(c.action, c.msg, c.sent, c.done, failFast);
      if (waiting === undefined) return;
      // Waiting for a connection, unsent: another server that comes up meanwhile may take it.
      if (pool.state !== 'ready') this.park(c, member, waiting);
      // Waiting for room on a server up, unsent: a server that can send it now may take it.
      else if (this.selector.spreads === true) this.placeForRoom(c, member, waiting);
      return;
    }
    stream.forgetReplyMetadata(); // a placement again on its server too (placeAgainForRoom)
    stream.onAttempt = (err) => this.streamAttempted(c, stream, err);
    pool.openOn(stream, c.action, c.msg, c.sent, failFast);
  }

  /**
   * `c` waits, unsent, on `m` with no connection up: in `m`'s set of `waitingDown`, made with its
   * first such call (a Map lookup and a Set add per call parked; nothing for a call that never waits on a server down).
   */
  private park(c: FailoverCall, m: PoolServer, waiting: WaitingCall): void {
    c.waiting = waiting;
    const calls = this.waitingDown.get(m);
    if (calls === undefined) this.waitingDown.set(m, new Set([c]));
    else calls.add(c);
  }

  /** `c` no longer waits unsent (its attempt's outcome came, it was sent, or it moves): out of its server's set, and the set out once empty. */
  private unpark(c: FailoverCall): void {
    c.waiting = undefined;
    const m = c.member!;
    const calls = this.waitingDown.get(m);
    if (calls !== undefined && calls.delete(c) && calls.size === 0) this.waitingDown.delete(m);
  }

  /**
   * A server came up, was added, or one went down: each call waiting for a connection, never
   * sent, on a server in an outage goes where the strategy picks among the healthy servers now (as for a
   * call made now: a key keeps to its ring, a picker's choice stands, and one that insists on
   * the server down keeps the call there), if that is another server: not at the end of its own
   * server's connect (a hurried one may hang until the connect times out) to fail fast and move
   * then, or to wait out its budget on its last attempt. Never sent, such a call cannot run twice,
   * so any call moves, idempotent or not; the attempt is moved, not spent (no retry, no budget).
   * A server on its first connect is no outage: its calls stay, as the strategy placed them.
   * The walk looks at the servers `queueMove` was asked for (`moveAll`, `movesFrom`), and of those
   * only at the calls of servers down: a server healthy's calls are passed over by the server,
   * not one by one, and are unparked at their outcome (`settle`).
   */
  private moveWaiting(): void {
    const servers = this.moveAll ? [...this.waitingDown.keys()] : [...this.movesFrom];
    this.moveAll = false;
    this.movesFrom.clear();
    if (this.closing) return;
    const pickable = this.pickableNow();
    // Nowhere to go (every server down): no walk, and no pick that would turn a rotation.
    if (!pickable.some(isHealthy)) return;
    // A snapshot: a moved call that fails at once may wait, parked again, on another server, and
    // its caller, told at once, may settle others of the snapshot (they are skipped).
    const calls: FailoverCall[] = [];
    for (const m of servers) {
      if (m.healthy) continue;
      for (const c of this.waitingDown.get(m) ?? []) calls.push(c);
    }
    for (const c of calls) {
      if (c.waiting === undefined) continue; // settled meanwhile: unparked already
      if (c.waiting.done) {
        this.unpark(c); // sent (once up), or failed: no longer waiting
        continue;
      }
      const from = c.member!;
      if (from.healthy) continue;
      const to = this.pickNow(c, pickable);
      if (to === undefined || to === from) continue;
      try {
        this.move(c, from, to);
      } catch (err) {
        // A caller's callback that threw, told from here (a microtask): logged, as a throw from any callback the pool calls.
        this.logger.error({ err }, 'moving a waiting call to a server up threw');
      }
    }
  }

  /**
   * A walk of the waiting calls (`moveWaiting`) a microtask on, if some wait: one for every change
   * of a turn. Of `from`'s calls alone when that is all a change may move (`from` went down: a
   * server down takes none), else of every server's.
   */
  private queueMove(from?: PoolServer): void {
    if (this.waitingDown.size === 0) return;
    if (from === undefined) this.moveAll = true;
    else if (!this.moveAll) this.movesFrom.add(from);
    if (this.moveQueued) return;
    this.moveQueued = true;
    queueMicrotask(() => {
      this.moveQueued = false;
      this.moveWaiting();
    });
  }

  /** Where the strategy sends `c` among the healthy now; undefined if its picker throws (the call stays). */
  private pickNow(c: FailoverCall, pickable: PoolServer[]): PoolServer | undefined {
    try {
      return this.selector.pick(c.opts.route, pickable, isHealthy);
    } catch {
      return undefined;
    }
  }

  /** Takes `c` out of `from`'s queue, unsent, to `to` with what is left of its time; left waiting when none is. */
  private move(c: FailoverCall, from: PoolServer, to: PoolServer): void {
    if (retimed(c, MOVED, this.pace, this.defaultTimeoutMs, this.attemptTimeoutMs)) return; // its deadline fails it where it waits
    c.waiting!.release();
    this.unpark(c);
    this.beginElsewhere(c, from, to);
  }

  /**
   * `c` just began waiting, unsent, for room on `from`, up, none of whose open connections has room now (even while it opens another):
   * with a strategy that insists on no server (`Selector.spreads`), it goes where the strategy
   * picks among the other healthy servers that send it at once (`ConnPool.takesNow`) and that it
   * was not tried on, if one does, as `move` moves a call off a server down: with what is left
   * of its time, its attempt moved, not spent (no retry, no budget, nothing counted for either
   * server), idempotent or not, as it never left. With none, or no time left, it waits where it
   * is. A server's redirect's word stands (`redirectedTo`). Only as a call arrives: one already
   * waiting stays when another server frees room later (it goes at its own server's first free
   * slot). At most `MAX_FREE_PLACEMENTS` per call, as other free placements (one does: a server
   * that takes it sends it at once).
   */
  private placeForRoom(c: FailoverCall, from: PoolServer, waiting: WaitingCall): void {
    if (c.placedFree >= MAX_FREE_PLACEMENTS || this.redirectedTo.get(c) === from) return;
    // Never one the call was tried on (`from` among them): a retry is not sent back where it failed.
    const untried = (m: PoolServer): boolean => m.pool?.takesNow() === true && isHealthy(m) && !c.tried.includes(m.address);
    // Built-in strategies alone spread (no picker function): this pick never throws.
    const to = this.selector.pick(c.opts.route, this.pickableNow(), untried);
    if (to === undefined || retimed(c, MOVED, this.pace, this.defaultTimeoutMs, this.attemptTimeoutMs)) return; // its deadline fails it where it waits
    waiting.release();
    c.placedFree++;
    // Never sent to `from`: not tried there, so a retry may still go to it first, as untried.
    c.tried.pop();
    this.beginElsewhere(c, from, to);
  }

  /** `c`, taken unsent out of `from`'s queue, begins on `to`: a half-open probe on `from` that never went gives its place to another. */
  private beginElsewhere(c: FailoverCall, from: PoolServer, to: PoolServer): void {
    if (c.probe !== undefined) from.breaker?.release(c.probe);
    this.begin(c, to);
  }

  /** `c`'s stream opened, or was refused before it opened. Once open, only its server's refusal unrun can still move it. */
  private streamAttempted(c: FailoverCall, stream: StreamCall, err: Error | null): void {
    if (err) return c.done(err as RpcError, null);
    stream.onAttempt = (late) => this.openStreamFailed(c, stream, late!);
    const m = c.member!;
    if (m.breaker !== undefined || m.score !== undefined) this.health.watchOutcome(m, stream, this.elapsed(m, c), c.probe, c.sent.timeoutMs);
  }

  /** `c`'s open stream failed. It moves as a call refused unrun would, if the rules let it (`openStreamFailure`). */
  private openStreamFailed(c: FailoverCall, stream: StreamCall, err: Error): void {
    const ends = openStreamFailure(err, stream, c.member!.shown, c.attempt + 1);
    if (ends) return stream.finish(ends, null);
    const forRoom = refusedForRoom(err, stream);
    stream.unopened();
    this.failed(c, err as RpcError, forRoom);
  }

  /**
   * `c`'s stream, refused for room on one connection of its server (`refusedForRoom`), opened
   * again on that server when its pool has a connection with room or may open one
   * (ConnPool.hasStreamRoom; the refusing one takes none until one of its streams leaves): its
   * attempt moved, not spent (no retry, no budget, no hook asked), as `placeAgainFree`'s, at most
   * `MAX_FREE_PLACEMENTS` times per call. False when it may not: it moves to another server then.
   */
  private placeAgainForRoom(c: FailoverCall, err: RpcError): boolean {
    const m = c.member!;
    if (this.closing || c.placedFree >= MAX_FREE_PLACEMENTS || this.byAddress.get(c.address) !== m || !isHealthy(m)) return false;
    if (!this.poolOf(m).hasStreamRoom()) return false;
    if (this.outOfTimeToPlace(c, err)) return true;
    c.placedFree++;
    // The same server again: on `tried` once (begin adds it back), so that it still reads as
    // tried first on its own address (`placeAgainFree`).
    c.tried.pop();
    this.begin(c, m);
    return true;
  }

  /**
   * Whether a server other than `m` could take a call now: healthy, and admitted by its breaker and
   * outlier score. Read off the members as they are, not `pickableNow()`, whose rebuild after a
   * change (a hash ring's among them) is left to the next pick. A server only a redirect brought in
   * counts too: then no early connect is made (ConnPool.hurry).
   */
  private healthyBesides(m: PoolServer): boolean {
    for (const s of this.byAddress.values()) if (s !== m && isHealthy(s)) return true;
    return false;
  }

  /** No server for `c`'s attempt: on a retry, the error says what earlier attempts may have done. */
  private unplaced(c: FailoverCall, err: RpcError): void {
    // The picker's word (a route naming no member, an address): about this call, not its caller's request.
    fromDownstream(err);
    if (c.attempt === 0) return this.tell(c, err, null);
    this.tell(c, finalError(err, { address: c.member!.shown, count: c.attempt, idempotent: c.idempotent, mayHaveRunOn: c.mayHaveRunOn }), null);
  }

  /**
   * Tells `c`'s caller how it ended, guarded (`notifyGuarded`): a callback that throws must fail
   * neither the connection whose answer settled it, nor the pool's other calls, nor the process.
   */
  private tell(c: FailoverCall, err: RpcError | RemoteError | null, reply: Reply | null): void {
    // A call settled before any server was tried names the pool instead.
    const remote = c.member?.shown ?? this.describePool;
    c.replyMetadata?.tell(this.logger, remote, c.action);
    notifyGuarded(this.logger, remote, c.action, c.notify, err, reply);
  }

  /** Who a call settled before any server was tried was talking to, for a log line's `remote`: the pool, by its servers (made only when a callback threw). */
  private readonly describePool = (): string => poolRemote(this.byAddress.values(), this.byAddress.size);

  /**
   * The membership's word: the list is read again at the next pick; the old one goes now, holding
   * no server that left. `joined`: a server came in, which may take calls waiting on servers down
   * (a walk of them); a change that only took servers out adds none that could, and walks nothing
   * but the leaving servers' own calls (`leaving`). A change an application's `onStateChange`
   * makes as a leaving server's pool closes comes once that close has failed what waited there
   * (ConnPool tells 'closed' last), so all of it is displaced by then.
   */
  private pickableChanged(joined: boolean): void {
    this.pickable = NO_SERVERS;
    this.pickableStale = true;
    if (this.displaced !== undefined) this.placeDisplaced();
    if (joined) this.queueMove();
    // A held last server's follower asks whether it is still the last (`watchStates`).
    this.queueTell();
  }

  /**
   * `m` leaves the pool, its ConnPool about to close: the calls waiting there, never sent, for a
   * connection (its first, or one in an outage) are taken out of its queue, not failed Closed
   * with it, to be placed again once the change is over (`placeDisplaced`). A call with no time
   * left stays: the pool's close fails it, and `displace` tells it Timeout. A half-open probe's
   * place need not be given back: the server's breaker leaves with it. Calls waiting for room
   * while a connection is up finish on it, as the ConnPool's close sends them. What the close
   * fails unsent is told that the server left (`leftUnsent`), not Closed: a call or stream sent
   * to it by name (`sendTo`, `openStreamTo`), which cannot move, ends so.
   */
  private leaving(m: PoolServer): void {
    if (this.closing) return;
    m.pool?.closesAs(() => leftUnsent(m.shown));
    // The change is under way until `pickableChanged`: what the pool's close fails unsent meanwhile is taken too (`displace`).
    this.displaced ??= [];
    if (m.pool === undefined || m.pool.state === 'ready') return;
    const calls = this.waitingDown.get(m);
    if (calls === undefined) return;
    // Its own calls only; a snapshot, as each taken is unparked (out of this set).
    for (const c of [...calls]) {
      if (c.waiting === undefined) continue;
      if (c.waiting.done) {
        this.unpark(c); // sent (once up), or failed: no longer waiting
        continue;
      }
      if (retimed(c, MOVED, this.pace, this.defaultTimeoutMs, this.attemptTimeoutMs)) continue;
      c.waiting.release();
      this.unpark(c);
      this.displaced.push(c);
    }
  }

  /**
   * During a change (`leaving` to `pickableChanged`): `c`'s attempt failed unsent (`retry: 'safe'`)
   * on a server that left, as its pool's close failed it: a stream waiting to open (which no
   * outage moves, but whose server is now gone), or a call that began waiting for room while a
   * connection was up. Taken as `leaving` takes a call waiting there, to be placed once the change
   * is over: not retried now, from a list that still holds the servers leaving in the same change
   * (their pools closed, or closing next) and not those joining; its attempt moved, not spent, no
   * `shouldFailover` asked; with no time left, it fails with Timeout (`outOfTimeToPlace`).
   */
  private displace(c: FailoverCall, err: RpcError | RemoteError): boolean {
    if (!(err instanceof RpcError && err.retry === 'safe') || this.byAddress.get(c.address) === c.member) return false;
    if (this.outOfTimeToPlace(c, err)) return true;
    this.displaced!.push(c);
    return true;
  }

  /**
   * `c`'s attempt failed because its server's pool was closed (`neverLeft`: never handed to a
   * connection, so it never left this process), as it was handed to that pool or as the pool's
   * flush took it from its queue to send it (it waited for room on a server up, and the flush's
   * pick replaced a draining connection), that server gone meanwhile: an
   * application's `onStateChange` removed it from the change the call made (its pool connecting
   * for it), after `leaving` looked for the calls waiting there, and the pool's close under the
   * call failed it. Placed again as `leaving`'s calls are
   * (`placeDisplaced`): its attempt moved, not spent (no retry, no budget, no `shouldFailover`
   * asked), with what is left of its time, never on the server removed (out of the lists); with
   * no server left it fails as a call made now does (Unreachable). Once per server a call is
   * placed on (its first try there), and at most `MAX_FREE_PLACEMENTS` times per call, so that a
   * hook removing and adding servers under it (the same ones back, or fresh ones each time) ends
   * by the retry rules. With no time left, it fails with Timeout (`outOfTimeToPlace`), as one
   * its server's leaving took does. False (the retry rules) when the pool is closed.
   */
  private placeAgainFree(c: FailoverCall, err: RpcError | RemoteError): boolean {
    if (!(err instanceof RpcError && err.retry === 'safe') || this.byAddress.get(c.address) === c.member) return false;
    if (this.closing !== undefined || c.tried.indexOf(c.address) !== c.tried.length - 1 || c.placedFree >= MAX_FREE_PLACEMENTS) return false;
    if (this.outOfTimeToPlace(c, err)) return true;
    c.placedFree++;
    this.attempt(c);
    return true;
  }

  /**
   * `c`, failed unsent (`err`) by its server leaving (`displace`, `placeAgainFree`), given what
   * is left of its time for its placement; or, with none left, failed with Timeout ("no time
   * left for another attempt"), as the retry rules fail a call out of time, whatever its
   * `retries`: a placement is no retry, and with `retries: 0` those rules would end it with its
   * server's pool's `Closed`, for a FailoverPool not closed. True when it failed so.
   */
  private outOfTimeToPlace(c: FailoverCall, err: RpcError): boolean {
    if (!retimed(c, MOVED, this.pace, this.defaultTimeoutMs, this.attemptTimeoutMs)) return false;
    // A pool closed under the call (`neverLeft`, its "is closed") was its server's, which left: said so (a downstream's as that was).
    const last = neverLeft(err) ? leftUnsent(c.member!.shown, err) : err;
    this.giveUp(c, outOfTime(last, c.opts.timeoutMs ?? this.defaultTimeoutMs));
    return true;
  }

  /**
   * The calls taken off servers that left go where a retry of theirs would (`choose`, the server
   * they were on tried already), their attempt moved, not spent (no retry, no budget): to a
   * server healthy if there is one, else to one down, to wait there as a call made now would,
   * within what is left of their timeout; with no server left, they fail as a call made now
   * does (Unreachable). Never sent, any of them may go, idempotent or not.
   */
  private placeDisplaced(): void {
    const calls = this.displaced!;
    this.displaced = undefined;
    for (const c of calls) {
      try {
        if (this.closing) this.tell(c, this.closedError(), null);
        else this.attempt(c);
      } catch (err) {
        this.logger.error({ err }, 'placing a call waiting on a server removed threw');
      }
    }
  }

  /** What the strategy picks from now: read again after the membership's word (`MembershipLink.pickableChanged`), and the strategy told. */
  private pickableNow(): PoolServer[] {
    if (!this.pickableStale) return this.pickable;
    this.pickableStale = false;
    this.pickable = this.membership.pickable();
    this.selector.membershipChanged?.(this.pickable);
    return this.pickable;
  }

  /** Healthy servers first, untried ones first; the strategy picks within each group. */
  private choose(c: FailoverCall): PoolServer | undefined {
    const key = c.opts.route;
    if (c.redirect !== undefined) {
      const target = this.byAddress.get(c.redirect);
      c.redirect = undefined;
      if (target) {
        this.redirectedTo.set(c, target);
        return target;
      }
    }
    const pickable = this.pickableNow();
    if (c.tried.length === 0) {
      return this.selector.pick(key, pickable, isHealthy) ?? this.selector.pick(key, pickable, isAdmitted) ?? this.lastResort(key, pickable);
    }
    const untried = (m: PoolServer): boolean => !c.tried.includes(m.address);
    return (
      this.selector.pick(key, pickable, (m) => isHealthy(m) && untried(m)) ??
      this.selector.pick(key, pickable, isHealthy) ??
      this.selector.pick(key, pickable, (m) => m.admitted && untried(m)) ??
      this.selector.pick(key, pickable, isAdmitted) ??
      this.lastResort(key, pickable)
    );
  }

  /**
   * Every server is ejected or its breaker is open: ejection gives way (it bounds how many it
   * takes out, not the breakers), an open breaker does not.
   */
  private lastResort(key: string | undefined, pickable: PoolServer[]): PoolServer | undefined {
    return this.health.ejecting ? this.selector.pick(key, pickable, breakerAdmits) : undefined;
  }

  private noServerError(): RpcError {
    const why = this.members.length === 0 ? 'no servers in the pool' : `the circuit breaker of every server is open (${this.members.length})`;
    return new RpcError(ErrorCode.Unreachable, why, { retry: 'safe' });
  }

  /** How long `c`'s attempt has taken, for its server's outlier score (no clock read without one). */
  private elapsed(m: PoolServer, c: FailoverCall): number {
    return m.score === undefined ? 0 : this.clock.now() - c.startedAt;
  }

  /** The application's decision for a failed attempt, if it has one. */
  private askHook(err: RpcError | RemoteError, c: FailoverCall): FailoverDecision | undefined {
    if (!this.shouldFailover) return undefined;
    try {
      return this.shouldFailover(err, { action: c.action, address: c.address, attempt: c.attempt, idempotent: c.idempotent, route: c.opts.route });
    } catch (e) {
      this.logger.error({ err: e, address: c.member!.shown }, 'shouldFailover threw; using the built-in rule');
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

  /** The ticked clock, made at the first call (`startPace`); the ConnPools' default timeout with it. */
  private startPace(): TickClock {
    const s = this.streamSettings();
    this.defaultTimeoutMs = s.timeoutMs;
    this.pace = startPace(this.memberOptions(), s);
    return this.pace;
  }

  private poolOf(m: PoolServer): ConnPool {
    m.pool ??= new ConnPool({ ...this.memberOptions(), transport: this.transport, address: m.dialAddress, onStateChange: this.stateHook(m) });
    return m.pool;
  }

  /**
   * What `m`'s pool tells of its states: the application's `pool.onStateChange`, and, when a
   * connection is up or an outage begins, this pool, which moves the calls waiting on servers
   * down to servers up (`moveWaiting`): a microtask on, after the calls waiting on `m` itself,
   * which came first and are sent (or failed fast) by the pool once it has told its state.
   */
  private stateHook(m: PoolServer): ConnPoolOptions['onStateChange'] {
    const app = this.poolOpts.onStateChange;
    return (state, previous) => {
      // Up (it may take calls waiting elsewhere), or down (its own waiting calls may go elsewhere).
      if (state === 'ready') this.queueMove();
      else if (state === 'backoff') this.queueMove(m);
      this.queueTell();
      // With the ConnPool as `this`, as ConnPool calls it; named by the member's key, as
      // `servers()`, `stats()` and membership events name it, not by what it dials (`ws://h:1`).
      app?.call(m.pool, state, previous, m.address);
    };
  }

  /** The state watchers told a microtask on, once for every change of a turn; nothing while no one watches. */
  private queueTell(): void {
    if (this.stateWatchers.size === 0 || this.tellQueued) return;
    this.tellQueued = true;
    queueMicrotask(() => {
      this.tellQueued = false;
      this.tellStateWatchers();
    });
  }

  private tellStateWatchers(): void {
    for (const w of [...this.stateWatchers]) {
      try {
        w();
      } catch (err) {
        this.logger.error({ err }, 'a server state watcher threw');
      }
    }
  }

  /**
   * What every server's ConnPool is made with (the pool's clock and logger unless `pool` names its
   * own: a `pool.logger` or `pool.clock` given as undefined names none, where a spread put it over the pool's).
   */
  private memberOptions(): MemberPoolOptions {
    return withDefaults<MemberPoolOptions>({ clock: this.clock, logger: this.logger }, this.poolOpts);
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

/**
 * What a call or stream waiting, never sent, on a server that leaves the pool fails with when it
 * cannot be placed elsewhere (one sent there by name): as a call finding no server does
 * (Unreachable, `retry: 'safe'`), naming the server that left; not Closed, which says a pool closed.
 */
function leftUnsent(shown: string, cause?: RpcError): RpcError {
  return new RpcError(ErrorCode.Unreachable, `server ${shown} left the pool before the call was sent`, { retry: 'safe', cause });
}

/** A decision as the final error's message names it. */
function decisionName(d: FailoverDecision): string {
  return typeof d === 'object' ? `a redirect to ${shownServer(d.redirect)}` : `'${d}'`;
}
