import {
  EMPTY_BYTES,
  ErrorCode,
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
  type Address,
  type Clock,
  type Logger,
  type Ticker,
  type RemoteError,
  type Transport,
} from '@skein/core';
import { TickClock } from '../internals/tick-clock.js';
import { abortedAlready } from '../client/call-abort.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { cancelled, type Notify, type Reply } from '../client/call.js';
import { callTimeout, nonNegative, positive, positiveInteger, timerMs } from '../internals/checks.js';
import type { CallOptions } from '../client/call-options.js';
import { promised, type StreamCaller } from '../client/caller.js';
import { ClientStream } from '../client/client-stream.js';
import { unopenedStreams, type StreamCall } from '../client/stream-call.js';
import { ConnectQueue, WaitingCall } from './connect-queue.js';
import { credentialsError, isAuthRefusal, type Credentials } from '../client/credentials.js';
import { resolveStreamOptions, type ClientStreamOptions } from '../client/options.js';
import { explainsRefusal, PoolCall, resendable, unrunError, type Resender } from './transparent-retry.js';
import { PoolStream, type Reopener } from './pool-stream.js';

/**
 * - `idle`: never used, no connection yet.
 * - `connecting`: no connection is up; one is being opened, or waits for the answer to its first ping.
 * - `ready`: at least one connection is up and has answered a ping.
 * - `backoff`: the last connect failed (or the last connection was lost); waiting to retry.
 * - `closed`: `close()` or `destroy()` was called.
 */
export type PoolState = 'idle' | 'connecting' | 'ready' | 'backoff' | 'closed';

export interface ConnPoolOptions {
  transport: Transport;
  /** `host:port`, `unix:/path` or an Address. */
  address: string | Address;
  /** Options for each connection: window, timeouts, keepalive, limits... */
  stream?: Partial<Omit<ClientStreamOptions, 'transport' | 'address' | 'onClose'>>;
  /** Connections at most. Default 4. */
  maxConnections?: number;
  /**
   * An extra connection with nothing in flight for this long is closed (one always stays).
   * Default 30 s; 0 disables (as the server's `idleTimeoutMs`): connections opened under load stay.
   */
  idleTimeoutMs?: number;
  /** Retire a connection after this age (within its last 10 %, jittered): drain it and open a fresh one as needed. Default: never. */
  maxConnectionAgeMs?: number;
  /**
   * Further attempts of a call (`send`, `call`) refused before it ran by its connection: a
   * draining server's bare Closed, a connection closing or lost before the call was written. Each
   * goes on an open connection that is not draining, or waits for a fresh one, within what is
   * left of the call's timeout and while its signal has not fired; it cannot run the call twice.
   * Default 1; 0 turns it off. (A FailoverPool's own calls move to another server instead: its
   * `retries`.) A stream (`openStream`) refused so is opened again under the same rules, only
   * while the server said nothing of it (no item or credit): the items it wrote meanwhile (at
   * most its `streamWindowBytes`) are kept and written again, in order, before later ones.
   */
  transparentRetries?: number;
  /** Calls allowed to wait for a connection; past it a call fails with Overloaded. Default 10 000. */
  maxQueued?: number;
  /** How long calls wait while connect attempts fail before they fail with Unreachable. Default 10 s. */
  connectBudgetMs?: number;
  /** Reconnect delays: exponential with full jitter. Default 100 ms doubling up to 5 s. */
  backoff?: Partial<BackoffOptions>;
  /**
   * How often the pool checks idle and old connections and waiting calls, in ms (1 ms to
   * 2^31 - 1). Default `stream.tickMs`, else 1 s. While calls with shorter timeouts wait for a
   * connection it checks more often, as a stream does (see `ClientStreamOptions.timeoutMs`).
   */
  tickMs?: number;
  clock?: Clock;
  logger?: Logger;
  /** Told of every state change, with the pool's address (one callback can serve a FailoverPool's pools). */
  onStateChange?: (state: PoolState, previous: PoolState, address: string) => void;
}

export interface ConnPoolStats {
  state: PoolState;
  /** Calls on the wire awaiting a reply, and streams open: the load least-active selection compares. */
  inFlight: number;
  /** Calls waiting: for a connection, or for room in a connection's window. */
  queued: number;
  /** Open connections, draining ones included. */
  connections: number;
}

/** One open connection and what the pool knows about it. */
interface Slot {
  stream: ClientStream | undefined;
  openedAt: number;
  lastUsed: number;
  /** Sent on since the last tick. */
  used: boolean;
  /** This connection's age limit (jittered), or Infinity. */
  maxAge: number;
  /** Over its age, kept only until a replacement is up. */
  expired: boolean;
  /** Closed before `connect` resolved. */
  dead: boolean;
  /** The pool's `credentialsEpoch` when its connect began: an older one is renewed once up. */
  epoch: number;
}


/**
 * The connections to one server: opened lazily on the first call, grown up to `maxConnections`
 * under load, shrunk when idle, reopened with jittered backoff when lost. Its health recovers: a
 * new connection whose first ping is answered always returns it to `ready`.
 */
export class ConnPool implements StreamCaller, Resender, Reopener {
  readonly address: string;
  private readonly target: Address;
  private readonly transport: Transport;
  private streamOpts: Partial<ClientStreamOptions>;
  private readonly maxConnections: number;
  private readonly idleTimeoutMs: number;
  private readonly maxAgeMs: number;
  private readonly connectBudgetMs: number;
  private readonly transparentRetries: number;
  private readonly defaultTimeoutMs: number;
  /** @internal Makes a stream for `openOn`, before a connection is picked (a FailoverPool's may try several pools). */
  readonly newStream: (opts: CallOptions) => StreamCall;
  private readonly tickMs: number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly onStateChange: ConnPoolOptions['onStateChange'];
  private readonly backoff: Backoff;
  private readonly waiting: ConnectQueue;
  /** New connections waiting for the answer to their first ping. */
  private readonly verifying = new Set<ClientStream>();
  /** Connections calls are sent to. */
  private active: Slot[] = [];
  /** Connections draining before they close (idle, old, or the pool is closing). */
  private readonly retiring = new Set<Slot>();
  private readonly pendingConnects = new Set<Promise<void>>();
  private connecting = 0;
  private _state: PoolState = 'idle';
  /** When the current outage began (the first failed connect or lost last connection); undefined while healthy. */
  private outageSince: number | undefined;
  private lastError: Error | undefined;
  /** No extra connection before this time (a scale-up connect just failed). */
  private growAfter = 0;
  /** Ticked time for waiting calls' deadlines; its ticker runs the pool's checks. Made on first use. */
  private pace: TickClock | undefined;
  private retryTimer: Ticker | undefined;
  private closing: Promise<void> | undefined;
  /** Counts `renewCredentials` calls: a connect begun before the last one renews once it is up. */
  private credentialsEpoch = 0;

  constructor(opts: ConnPoolOptions) {
    if (!opts?.transport) throw invalidArgument('ConnPool needs a transport');
    if (opts.onStateChange !== undefined && typeof opts.onStateChange !== 'function') throw invalidArgument('onStateChange must be a function');
    this.target = parseAddress(opts.address);
    this.address = formatAddress(this.target);
    this.transport = opts.transport;
    this.streamOpts = opts.stream ?? {};
    // Checked now as well as by each connect: a bad stream option would fail every reconnect forever.
    const stream = resolveStreamOptions(this.streamOpts, 'stream.');
    this.maxConnections = positiveInteger(opts.maxConnections ?? 4, 'maxConnections');
    refuseRenamed(opts, 'idleMs', 'idleTimeoutMs', 'ConnPool');
    this.idleTimeoutMs = nonNegative(opts.idleTimeoutMs ?? 30_000, 'idleTimeoutMs');
    this.maxAgeMs = opts.maxConnectionAgeMs === undefined ? Infinity : positive(opts.maxConnectionAgeMs, 'maxConnectionAgeMs');
    this.connectBudgetMs = positive(opts.connectBudgetMs ?? 10_000, 'connectBudgetMs');
    const retries = opts.transparentRetries ?? 1;
    if (!(Number.isInteger(retries) && retries >= 0)) throw invalidArgument(`transparentRetries must be a non-negative integer, got ${retries}`);
    this.transparentRetries = retries;
    this.defaultTimeoutMs = stream.timeoutMs;
    this.newStream = unopenedStreams(stream.streamWindowBytes, stream.limits);
    this.tickMs = timerMs(opts.tickMs ?? stream.tickMs, 'tickMs');
    this.clock = opts.clock ?? this.streamOpts.clock ?? systemClock;
    // Its lines come on the way to calls' outcomes and closes: one it cannot write must not stop those.
    this.logger = guardedLogger(opts.logger ?? this.streamOpts.logger ?? silentLogger);
    this.onStateChange = opts.onStateChange;
    this.backoff = new Backoff(opts.backoff);
    // While calls wait for a connection the pool's ticker holds the process: a script awaiting
    // one must not exit under it. An idle pool holds nothing.
    this.waiting = new ConnectQueue(positiveInteger(opts.maxQueued ?? 10_000, 'maxQueued'), (busy) => this.pace?.hold(busy));
  }

  get state(): PoolState {
    return this._state;
  }

  /**
   * False while the server cannot be reached: in backoff, or reconnecting after a failure. A pool
   * never used, connecting for the first time, or ready is healthy.
   */
  get healthy(): boolean {
    const s = this._state;
    return s === 'ready' || s === 'idle' || (s === 'connecting' && this.outageSince === undefined);
  }

  /** Calls on the wire awaiting a reply, and streams open: a stream loads a server as long as it lasts. */
  get inFlight(): number {
    let n = 0;
    for (const s of this.active) n += carried(s.stream!);
    for (const s of this.retiring) n += carried(s.stream!);
    return n;
  }

  get queued(): number {
    let n = this.waiting.size;
    for (const s of this.active) n += s.stream!.queued;
    for (const s of this.retiring) n += s.stream!.queued;
    return n;
  }

  get connections(): number {
    return this.active.length + this.retiring.size;
  }

  stats(): ConnPoolStats {
    return { state: this._state, inFlight: this.inFlight, queued: this.queued, connections: this.connections };
  }

  /** Sends a call and resolves with its reply. */
  call(action: string | number, msg: Uint8Array = EMPTY_BYTES, opts: CallOptions = {}): Promise<Reply> {
    return promised(this, action, msg, opts);
  }

  /**
   * Sends a call on the connection with the most room in its window; reports through `notify`.
   * A call its connection refused before it ran is sent again (`transparentRetries`).
   */
  send(action: string | number, msg: Uint8Array, opts: CallOptions, notify: Notify): void {
    if (this._state === 'idle') this.start();
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    // In ticked time, as a waiting call's: no clock read. A bad timeout fails the call (InvalidArgument), never resent.
    const deadline = this.pace !== undefined && typeof timeoutMs === 'number' && timeoutMs > 0 ? this.pace.deadline(timeoutMs) : NaN;
    const call = new PoolCall(this, action, this.transparentRetries === 0 ? EMPTY_BYTES : msg, opts, notify, deadline);
    this.submit(action, msg, opts, call.settle, opts.failFast === true);
  }

  /**
   * @internal A call made through `send` failed: sent again if its connection refused it before
   * it ran and it has retries and time left, else its caller is told (a refusal unrun saying so).
   */
  failed(call: PoolCall, err: RpcError | RemoteError): void {
    if (!resendable(err) || this.noResend(call)) return call.fail(unrunError(err, call.resent + 1));
    call.resent++;
    // Not from within the refusing connection's frame handling, which the resend's pick may close.
    queueMicrotask(() => this.resend(call, err));
  }

  private noResend(call: PoolCall): boolean {
    return call.resent >= this.transparentRetries || this._state === 'closed' || abortedAlready(call.opts) !== undefined || !(call.deadline - this.pace!.elapsed > 0);
  }

  /** `call` once more, bounded by what is left of its timeout: on an open connection not draining, or waiting for one. */
  private resend(call: PoolCall, err: RpcError): void {
    // Aborted since the refusal: its caller cancelled a call still pending, as far as it knows.
    const aborted = abortedAlready(call.opts);
    if (aborted) return call.fail(aborted);
    if (this._state === 'closed') return call.fail(unrunError(err, call.resent));
    const left = call.deadline - this.pace!.elapsed;
    if (!(left > 0)) return call.fail(unrunError(err, call.resent));
    // A draining server's connection is retired here, and a fresh one opened if none is left.
    const slot = this.pick();
    if (slot) {
      slot.used = true;
      return slot.stream!.sendWithin(call.action, call.msg, call.opts, call.settle, left);
    }
    this.enqueue(call.action, call.msg, call.opts, call.settle, call.opts.failFast === true, undefined, left);
  }

  /** `send` with `failFast` apart, so a FailoverPool need not copy the caller's options. @internal */
  submit(action: string | number, msg: Uint8Array, opts: CallOptions, notify: Notify, failFast: boolean): void {
    if (this._state === 'closed') return notify(new RpcError(ErrorCode.Closed, `pool for ${this.address} is closed`), null);
    if (this._state === 'idle') this.start();
    const slot = this.pick();
    if (slot) {
      // A flag, turned into a time once per tick: no clock read per call.
      slot.used = true;
      return slot.stream!.send(action, msg, opts, notify);
    }
    this.enqueue(action, msg, opts, notify, failFast);
  }

  /**
   * Opens a stream (see `ClientStream.openStream`) on the connection with the most room, once
   * one is up: a stream stays on the connection it opened on, and fails with it. One refused
   * before it ran, before the server said anything of it, is opened again with the items it
   * wrote (`transparentRetries`).
   */
  openStream(action: string | number, msg: Uint8Array = EMPTY_BYTES, opts: CallOptions = {}): StreamCall {
    const stream = this.newStream(opts);
    if (this.transparentRetries === 0 || this._state === 'closed') explainsRefusal(stream);
    else {
      if (this._state === 'idle') this.start();
      // In ticked time, as a call's; a stream without a timeout has none to keep to.
      const t = opts.timeoutMs;
      const deadline = t === undefined ? Infinity : typeof t === 'number' && t > 0 && t < Infinity ? this.pace!.deadline(t) : NaN;
      new PoolStream(this, stream, action, msg, opts, deadline);
    }
    return this.openOn(stream, action, msg, opts, opts.failFast === true);
  }

  /** @internal A stream of `openStream` refused before it ran may be opened again (as `noResend` for a call). */
  mayReopen(s: PoolStream): boolean {
    return s.reopened < this.transparentRetries && this._state !== 'closed' && abortedAlready(s.opts) === undefined && s.deadline - this.pace!.elapsed > 0;
  }

  /** @internal `s` once more, within what is left of its timeout: on an open connection not draining, or waiting for one. */
  reopen(s: PoolStream, err: RpcError): void {
    if (s.stream.isDone) return; // cancelled meanwhile: its signal, `cancel()`, a `break`
    const left = s.deadline - this.pace!.elapsed;
    if (this._state === 'closed' || !(left > 0)) return s.fail(err, s.reopened);
    s.again();
    // A draining server's connection is retired by the pick, and a fresh one opened if none is left.
    this.openOn(s.stream, s.action, s.msg, s.deadline === Infinity ? s.opts : extended(s.opts, { timeoutMs: left }), s.opts.failFast === true);
  }

  /** @internal `openStream` for a stream made already: waits for a connection as a call does (its timeout, the connect budget). */
  openOn(stream: StreamCall, action: string | number, msg: Uint8Array, opts: CallOptions, failFast: boolean): StreamCall {
    if (this._state === 'closed') {
      stream.finish(new RpcError(ErrorCode.Closed, `pool for ${this.address} is closed`, { retry: 'safe' }), null);
      return stream;
    }
    if (this._state === 'idle') this.start();
    const slot = this.pick();
    if (slot) {
      slot.used = true;
      return slot.stream!.openOn(stream, action, msg, opts);
    }
    const waiting = this.enqueue(action, msg, opts, (err) => stream.finish(err, null), failFast, opening(stream, action, msg, opts));
    // A stream ended while it waits (cancelled, a `break`) leaves the queue now, not at its deadline.
    if (waiting) stream.waitsIn(() => waiting.fail(cancelled()));
    return stream;
  }

  /**
   * Renews the credentials on every open connection (`ClientStream.renewCredentials`); given
   * `credentials`, they replace the `stream.credentials` option, so that connections opened
   * later present them too (one being opened now renews with them once it is up). Resolves
   * when the server accepted them on every open connection; rejects with the first refusal.
   */
  renewCredentials(credentials?: Credentials): Promise<void> {
    if (this._state === 'closed') return Promise.reject(new RpcError(ErrorCode.Closed, `pool for ${this.address} is closed`));
    if (this.streamOpts.credentials === undefined) {
      return Promise.reject(new RpcError(ErrorCode.Unauthenticated, `no credentials on the pool for ${this.address}: nothing to renew`));
    }
    if (credentials !== undefined) {
      const bad = credentialsError(credentials, 'credentials');
      if (bad) return Promise.reject(bad);
      this.streamOpts = { ...this.streamOpts, credentials };
    }
    this.credentialsEpoch++;
    return Promise.all(this.active.map((slot) => slot.stream!.renewCredentials(credentials))).then(() => undefined);
  }

  /**
   * Stops taking calls (they fail with Closed) and fails the calls still waiting for a
   * connection with Closed (`retry: 'safe'`: they were never sent); calls already on a
   * connection finish. Resolves when every connection is closed.
   */
  close(): Promise<void> {
    if (!this.closing) {
      this.shutdown();
      const streams = [...this.active, ...this.retiring].map((s) => s.stream!);
      this.retireAll();
      this.closing = Promise.all([...streams.map((s) => s.close()), ...this.pendingConnects]).then(() => undefined);
    }
    return this.closing;
  }

  /** Closes at once: every unsettled call fails (IO for calls on the wire, Closed for waiting ones). */
  destroy(reason = 'pool destroyed'): void {
    const streams = [...this.active, ...this.retiring].map((s) => s.stream!);
    if (!this.closing) {
      this.shutdown();
      this.retireAll();
      this.closing = Promise.all([...streams.map((s) => s.closed()), ...this.pendingConnects]).then(() => undefined);
    }
    for (const s of streams) s.destroy(reason);
  }

  private start(): void {
    this.pace ??= new TickClock(this.clock, this.tickMs, this.defaultTimeoutMs, (now) => this.tick(now));
    this.connect();
  }

  /** The open connection with the most room in its window; asks for another when all are full. */
  private pick(): Slot | undefined {
    const best = this.leastLoaded(true);
    if (best !== null) return best;
    // Rare: a connection that takes no call. Retired (its siblings too, when its server drains),
    // and the rest walked again.
    this.replaceRefusing();
    return this.leastLoaded(false) ?? undefined;
  }

  /**
   * The connection with the most room in its window, asking for another when even it has none;
   * null, with `refusals`, at the first that takes no call: one walk per call in the usual case.
   */
  private leastLoaded(refusals: boolean): Slot | undefined | null {
    let best: Slot | undefined;
    let room = -Infinity;
    for (const slot of this.active) {
      if (refusals && refusing(slot)) return null;
      const s = slot.stream!;
      const r = s.window - s.inFlight - s.queued;
      if (r > room) {
        best = slot;
        room = r;
      }
    }
    // The call still goes to the least-loaded connection's own queue meanwhile.
    if (best && room <= 0) this.grow();
    return best;
  }

  /**
   * Retires the connections whose server answered Closed (it is draining: a restart hands its
   * socket to a new process), so that calls go to a fresh connection, to whoever accepts now.
   * Their siblings too: one server's drain refuses on every connection to it, so a call resent
   * on a sibling not yet refused would be refused again (and fail, its resend spent) while the
   * successor listens already. Behind a balancer that spreads connections over servers, a
   * sibling to a server that is not draining is opened again: a connect, no call lost. Also those
   * that began closing by themselves (their credentials' grant ran out): one takes no call (it
   * fails each with Closed, unsent) and stays open for as long as a call it carries runs.
   */
  private replaceRefusing(): void {
    const draining = this.active.some((s) => s.stream!.peerClosing);
    for (const slot of this.active.filter((s) => draining || refusing(s))) this.retire(slot);
    if (this.active.length === 0 && this.connecting === 0) this.connect();
  }

  private grow(): void {
    if (this.active.length + this.connecting >= this.maxConnections) return;
    if (this.clock.now() < this.growAfter) return;
    this.connect();
  }

  /** Queues a call until a connection is up; returns it, or undefined when it failed at once (told through `notify`). */
  private enqueue(action: string | number, msg: Uint8Array, opts: CallOptions, notify: Notify, failFast: boolean, opens?: WaitingCall['opens'], boundMs?: number): WaitingCall | undefined {
    let timeoutMs: number;
    try {
      // A resent call waits only for what is left of its timeout.
      timeoutMs = boundMs !== undefined ? Math.ceil(boundMs) : callTimeout(opts.timeoutMs, this.defaultTimeoutMs);
    } catch (err) {
      notify(fromDownstream(err as RpcError), null);
      return undefined;
    }
    const now = this.clock.now();
    const outage = this.outageSince;
    if (outage !== undefined && (failFast || now - outage >= this.connectBudgetMs)) return void notify(this.unreachable(now), null);
    const aborted = abortedAlready(opts);
    if (aborted) return void notify(aborted, null);
    const call = new WaitingCall(action, msg, opts, notify, outage ?? now, this.pace!.deadline(timeoutMs), failFast, opens);
    if (!this.waiting.push(call)) {
      call.release();
      notify(new RpcError(ErrorCode.Overloaded, `more than ${this.waiting.max} calls waiting for a connection to ${this.address}`), null);
      return undefined;
    }
    return call;
  }

  private connect(): void {
    this.connecting++;
    if (this.active.length === 0) this.setState('connecting');
    const slot: Slot = { stream: undefined, openedAt: 0, lastUsed: 0, used: false, maxAge: Infinity, expired: false, dead: false, epoch: this.credentialsEpoch };
    const attempt = ClientStream.connect({
      ...this.streamOpts,
      transport: this.transport,
      address: this.target,
      clock: this.clock,
      logger: this.logger,
      onClose: (err) => this.lost(slot, err),
    })
      .then(
        (stream) => this.verify(slot, stream),
        (err: Error) => this.connectFailed(err),
      )
      .catch((err: unknown) => this.logger.error({ address: this.address, err }, 'pool connect handling failed'));
    this.pendingConnects.add(attempt);
    void attempt.finally(() => this.pendingConnects.delete(attempt));
  }

  /**
   * A connect proves little: the kernel of a stopped (SIGSTOP) or hung server still completes
   * handshakes from its backlog. Only an answered ping makes a new connection usable, resets
   * the backoff and makes the pool ready; one unanswered for `stream.keepaliveTimeoutMs` closes
   * it, and counts as a failed connect.
   */
  private async verify(slot: Slot, stream: ClientStream): Promise<void> {
    if (this._state === 'closed') {
      this.connecting--;
      return stream.close();
    }
    this.verifying.add(stream);
    try {
      await stream.ping();
    } catch (err) {
      return this.connectFailed(err as Error);
    } finally {
      this.verifying.delete(stream);
    }
    return this.opened(slot, stream);
  }

  private opened(slot: Slot, stream: ClientStream): Promise<void> | void {
    if (this._state === 'closed') {
      this.connecting--;
      return stream.close();
    }
    if (slot.dead || stream.state !== 'open') return this.connectFailed(new Error(`connection to ${this.address} closed at once`));
    this.connecting--;
    const now = this.clock.now();
    slot.stream = stream;
    slot.openedAt = now;
    slot.lastUsed = now;
    slot.maxAge = this.maxAgeMs * (0.9 + 0.1 * Math.random());
    this.active.push(slot);
    if (this.outageSince !== undefined) {
      this.logger.info({ address: this.address, downMs: Math.round(now - this.outageSince) }, 'reconnected');
    }
    this.backoff.reset();
    this.outageSince = undefined;
    this.lastError = undefined;
    this.growAfter = 0;
    this.setState('ready');
    if (slot.epoch !== this.credentialsEpoch) this.renewLate(stream);
    // Make before break: connections over their age were kept only until this one was up.
    for (const s of this.active) if (s.expired) this.retire(s);
    this.flush();
  }

  /** A connection that presented the credentials of before a `renewCredentials`: it presents the current ones. */
  private renewLate(stream: ClientStream): void {
    stream.renewCredentials(this.streamOpts.credentials).catch((err: unknown) => {
      this.logger.debug({ address: this.address, err }, 'renewing the credentials of a new connection failed');
    });
  }

  private connectFailed(err: Error): void {
    this.connecting--;
    if (this._state === 'closed') return;
    if (this.active.length > 0) {
      // A scale-up failed while other connections work: try growing again later, not at once.
      this.growAfter = this.clock.now() + this.backoff.next();
      this.logger.debug({ address: this.address, err }, 'extra connection failed');
      return;
    }
    if (this.connecting > 0) return; // another attempt is under way
    this.enterBackoff(err);
  }

  /** A connection closed (from the stream, synchronously, before its calls are failed). */
  private lost(slot: Slot, err: Error | undefined): void {
    if (!slot.stream) {
      slot.dead = true;
      return;
    }
    if (this.retiring.delete(slot)) return;
    const i = this.active.indexOf(slot);
    if (i < 0) return;
    this.active.splice(i, 1);
    if (this._state === 'closed') return;
    if (this.closedWhileIdle(slot.stream, err)) return;
    this.logger.warn({ address: this.address, err }, 'connection lost');
    if (this.active.length > 0) return;
    const cause = err ?? new Error('connection closed by the peer');
    if (this.connecting > 0) {
      this.outageSince ??= this.clock.now();
      this.lastError = cause;
      this.setState('connecting');
    } else {
      this.enterBackoff(cause);
    }
  }

  /**
   * The server closed, cleanly, a connection that carried nothing: its idle clock, or a graceful
   * close. Not an outage: the pool stays healthy and, with no connection left, opens a fresh one
   * (a pool keeps one warm). Only if that fails is the server unreachable, which is also how a
   * server that died while idle is found out (its kernel closes the socket just as cleanly).
   */
  private closedWhileIdle(stream: ClientStream, err: Error | undefined): boolean {
    if (err !== undefined || carried(stream) > 0 || stream.queued > 0) return false;
    this.logger.info({ address: this.address }, 'the server closed an idle connection');
    if (this.active.length === 0 && this.connecting === 0) this.connect();
    return true;
  }

  private enterBackoff(err: Error): void {
    const now = this.clock.now();
    if (this.outageSince === undefined) {
      this.outageSince = now;
      this.logger.warn({ address: this.address, err }, 'cannot reach server: backing off');
    } else {
      this.logger.debug({ address: this.address, err, attempts: this.backoff.attempts }, 'reconnect failed');
    }
    this.lastError = err;
    this.setState('backoff');
    // At least 1 ms: a zero-delay ticker would spin on a manual clock.
    const delay = Math.max(1, this.backoff.next());
    this.retryTimer = this.clock.every(delay, () => {
      this.retryTimer?.stop();
      this.retryTimer = undefined;
      if (this._state === 'backoff') this.connect();
    });
    this.expireWaiting(now);
    // Refused credentials: the calls waiting learn why now, not as Unreachable after the budget.
    if (isAuthRefusal(err)) this.waiting.failWhere(() => err);
  }

  /** Sends the calls that waited for a connection, in order. */
  private flush(): void {
    const now = this.clock.now();
    for (let call = this.waiting.shift(); call; call = this.waiting.shift()) {
      const slot = this.pick();
      if (!slot) return this.waiting.unshift(call); // a callback closed the pool meanwhile
      // In ticked time, as the deadline: what is left of the call's timeout (its own, or the
      // default), never less. It bounds the call on the stream without becoming its timeout: a
      // call with none of its own sends no deadline, as it would have on a ready connection.
      const remaining = call.deadline - this.pace!.elapsed;
      if (remaining <= 0) {
        call.fail(neverSent(call.opts.timeoutMs ?? this.defaultTimeoutMs));
        continue;
      }
      slot.lastUsed = now;
      const notify = call.release();
      if (call.opens) call.opens(slot.stream!, remaining);
      else slot.stream!.sendWithin(call.action, call.msg, call.opts, notify, remaining);
    }
  }

  private tick(now: number): void {
    this.expireWaiting(now);
    this.reapIdle(now);
    this.retireOld(now);
  }

  /** Fails waiting calls past their deadline, past the connect budget, or failing fast in an outage. */
  private expireWaiting(now: number): void {
    const connected = this.active.length > 0;
    const inOutage = this.outageSince !== undefined;
    const elapsed = this.pace!.elapsed;
    this.waiting.failWhere((call) => {
      if (call.deadline <= elapsed) return neverSent(call.opts.timeoutMs ?? this.defaultTimeoutMs);
      if (connected) return undefined;
      if (now - call.budgetStart >= this.connectBudgetMs || (call.failFast && inOutage)) return this.unreachable(now);
      return undefined;
    });
  }

  /** Closes extra connections that carried nothing for `idleTimeoutMs` (0: never); the most recently used stays. */
  private reapIdle(now: number): void {
    for (const slot of this.active) {
      if (!slot.used) continue;
      slot.used = false;
      slot.lastUsed = now;
    }
    if (this.active.length <= 1 || this.idleTimeoutMs === 0) return;
    const byUse = [...this.active].sort((a, b) => a.lastUsed - b.lastUsed);
    for (const slot of byUse) {
      if (this.active.length <= 1) break;
      const s = slot.stream!;
      if (carried(s) === 0 && s.queued === 0 && now - slot.lastUsed >= this.idleTimeoutMs) this.retire(slot);
    }
  }

  /** Retires connections over their age; the last one only once a fresh one is up. */
  private retireOld(now: number): void {
    if (this.maxAgeMs === Infinity) return;
    for (const slot of [...this.active]) {
      if (slot.expired || now - slot.openedAt < slot.maxAge) continue;
      if (this.active.some((s) => s !== slot && !s.expired)) this.retire(slot);
      else slot.expired = true;
    }
    if (this.active.some((s) => s.expired) && this.connecting === 0 && now >= this.growAfter) this.connect();
  }

  /** Stops sending to a connection and closes it once its calls are done. */
  private retire(slot: Slot): void {
    const i = this.active.indexOf(slot);
    if (i < 0) return;
    this.active.splice(i, 1);
    this.retiring.add(slot);
    void slot.stream!.close();
  }

  private retireAll(): void {
    for (const slot of this.active) this.retiring.add(slot);
    this.active = [];
  }

  private shutdown(): void {
    this.setState('closed');
    this.pace?.stop();
    this.retryTimer?.stop();
    this.retryTimer = undefined;
    // They carry no call yet: nothing to let finish.
    for (const stream of this.verifying) stream.destroy(`pool for ${this.address} closed`);
    this.waiting.failWhere(() => new RpcError(ErrorCode.Closed, `pool for ${this.address} closed before the call was sent`));
  }

  private unreachable(now: number): RpcError {
    const since = this.outageSince ?? now;
    const why = this.lastError ? `: ${this.lastError.message}` : '';
    return new RpcError(ErrorCode.Unreachable, `cannot reach ${this.address} for ${Math.round(now - since)} ms${why}`, {
      cause: this.lastError,
      retry: 'safe',
    });
  }

  private setState(state: PoolState): void {
    const previous = this._state;
    if (state === previous) return;
    this._state = state;
    this.logger.debug({ address: this.address, state, previous }, 'pool state');
    if (!this.onStateChange) return;
    try {
      this.onStateChange(state, previous, this.address);
    } catch (err) {
      this.logger.error({ address: this.address, err }, 'onStateChange threw');
    }
  }
}

const neverSent = (timeoutMs: number): RpcError =>
  new RpcError(ErrorCode.Timeout, `call waited ${timeoutMs} ms for a connection and was never sent`, { retry: 'safe' });

/** What a connection carries: calls on the wire and open streams (a connection with a stream is not idle). */
function carried(s: ClientStream): number {
  return s.inFlight + s.openStreams;
}

/**
 * A waiting stream's opening. Made apart from `openOn`: a closure there would share its scope
 * with the queue's callback, and keep the opening's msg and options for as long as the queue
 * keeps that (lazily, past a cancel).
 */
function opening(stream: StreamCall, action: string | number, msg: Uint8Array, opts: CallOptions): WaitingCall['opens'] {
  return (on, timeoutMs) => void on.openOn(stream, action, msg, opts.timeoutMs === undefined ? opts : extended(opts, { timeoutMs }));
}

/** A connection that takes no call: its server is draining, or it began closing by itself. */
const refusing = (slot: Slot): boolean => slot.stream!.peerClosing || slot.stream!.state !== 'open';
