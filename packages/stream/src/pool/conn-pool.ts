import {
  EMPTY_BYTES,
  ErrorCode,
  RpcError,
  extended,
  formatAddress,
  invalidArgument,
  parseAddress,
  shownAddress,
  silentLogger,
  guardedLogger,
  withoutStack,
  type Clock,
  type Logger,
  type RemoteError,
} from '@skein/core';
import { TickClock } from '../internals/tick-clock.js';
import type { CallbackHost } from '../internals/notify-guarded.js';
import { abortedAlready } from '../client/call-abort.js';
import { cancelled, type Notify, type Reply } from '../client/call.js';
import type { CallOptions } from '../client/call-options.js';
import { promised, type StreamCaller } from '../client/caller.js';
import type { ClientStream } from '../client/client-stream.js';
import { unopenedStreams, type StreamCall } from '../client/stream-call.js';
import { ConnectQueue, type WaitingCall } from './connect-queue.js';
import { WaitingCalls, opening, poolClosed, type WaitLink } from './waiting-calls.js';
import type { Credentials } from '../client/credentials.js';
import { explainsRefusal, PoolCall, resendable, unrunError, type Resender } from './transparent-retry.js';
import { PoolStream, type Reopener } from './pool-stream.js';
import { type ConnPoolOptions, type ConnPoolStats, type PoolState } from './conn-pool-options.js';
import { carried, type MadeWith, type Slot } from './pool-slot.js';
import { ConnOpener, type OpenerLink } from './conn-opener.js';
import { Outage, type OutageLink } from './outage.js';
import { reapIdle, retireOld, type UpkeepLink } from './conn-upkeep.js';
import { connPoolSettings } from './conn-pool-settings.js';

/**
 * The connections to one server: opened lazily on the first call, grown up to `maxConnections`
 * under load, shrunk when idle, reopened with jittered backoff when lost. Its health recovers: a
 * new connection whose first ping is answered always returns it to `ready`.
 */
export class ConnPool implements StreamCaller, Resender, Reopener {
  readonly address: string;
  /** `address` as log lines and error messages name it: a ws:// URL's query (a token) left out. */
  private readonly shown: string;
  private readonly maxConnections: number;
  private readonly idleTimeoutMs: number;
  private readonly maxAgeMs: number;
  private readonly transparentRetries: number;
  private readonly defaultTimeoutMs: number;
  /** @internal Makes a stream for `openOn`, before a connection is picked (a FailoverPool's may try several pools). */
  readonly newStream: (opts: CallOptions) => StreamCall;
  private readonly tickMs: number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  /** @internal Where a caller's callback that threw is logged (`notifyGuarded`): one for the pool, none per call. */
  readonly callbacks: CallbackHost;
  private readonly onStateChange: ConnPoolOptions['onStateChange'];
  /** Opens the connections: the connect, the first ping; counts those under way. */
  private readonly opener: ConnOpener;
  /** Since when and why the server cannot be reached; when to connect again. */
  private readonly outage: Outage;
  /** Calls waiting for a connection. Held here too, not only by `waits`: `queued` reads its size per FailoverPool pick. */
  private readonly waiting: ConnectQueue;
  /** What those calls wait by (deadlines, the connect budget, an outage), and their sending once a connection is up. */
  private readonly waits: WaitingCalls;
  /** Connections calls are sent to. */
  private readonly active: Slot[] = [];
  /** Connections draining before they close (idle, old, or the pool is closing). */
  private readonly retiring = new Set<Slot>();
  /** What the tick's upkeep (idle and old connections) needs of the pool. */
  private readonly upkeep: UpkeepLink = { active: this.active, retire: (slot) => this.retire(slot) };
  private _state: PoolState = 'idle';
  /** Ticked time for waiting calls' deadlines; its ticker runs the pool's checks. Made on first use. */
  private pace: TickClock | undefined;
  private closing: Promise<void> | undefined;
  /** A flush of the calls waiting for room is due in a microtask (`roomMade`): one for a burst of answers. */
  private flushDue = false;
  /**
   * What each call still waiting for a connection fails with at the close (`shutdown`, made
   * stackless, one per call): a Closed of this pool, unless its FailoverPool said why it closes (`closesAs`).
   */
  private unsentAtClose = (): RpcError => new RpcError(ErrorCode.Closed, `pool for ${this.shown} closed before the call was sent`);

  constructor(opts: ConnPoolOptions) {
    if (!opts?.transport) throw invalidArgument('ConnPool needs a transport');
    const target = parseAddress(opts.address);
    this.address = formatAddress(target);
    this.shown = shownAddress(target);
    const streamOpts = opts.stream ?? {};
    const settings = connPoolSettings(opts);
    this.maxConnections = settings.maxConnections;
    this.idleTimeoutMs = settings.idleTimeoutMs;
    this.maxAgeMs = settings.maxAgeMs;
    this.transparentRetries = settings.transparentRetries;
    this.defaultTimeoutMs = settings.stream.timeoutMs;
    this.newStream = unopenedStreams(settings.stream.streamWindowBytes, settings.stream.limits);
    ({ clock: this.clock, tickMs: this.tickMs } = settings);
    // Its lines come on the way to calls' outcomes and closes: one it cannot write must not stop those.
    this.logger = guardedLogger(opts.logger ?? streamOpts.logger ?? silentLogger);
    this.callbacks = { logger: this.logger, remote: this.shown };
    this.onStateChange = opts.onStateChange;
    const link = this.link();
    this.outage = new Outage(settings.backoff, link);
    // While calls wait for a connection the pool's ticker holds the process: a script awaiting
    // one must not exit under it. An idle pool holds nothing.
    this.waiting = new ConnectQueue(settings.maxQueued, (busy) => this.pace?.hold(busy));
    this.waits = new WaitingCalls(this.waiting, this.outage, this.defaultTimeoutMs, settings.connectBudgetMs, link);
    this.opener = new ConnOpener(streamOpts, opts.transport, target, link);
  }

  /** See `Caller.timeoutMs`: its `stream.timeoutMs`. */
  get timeoutMs(): number {
    return this.defaultTimeoutMs;
  }

  get state(): PoolState {
    return this._state;
  }

  /**
   * @internal Its FailoverPool's server leaves that pool, and this pool closes next: what still
   * waits here for a connection then, never sent (a call or stream sent to that server by name,
   * which cannot move), fails with `unsent()`'s error, which says the server left, not with a
   * Closed of this pool, which reads as the FailoverPool closed.
   */
  closesAs(unsent: () => RpcError): void {
    if (this._state !== 'closed') this.unsentAtClose = unsent;
  }

  /** @internal A FailoverPool member given again in another spelling: connects begun from now on dial `address`. */
  redial(address: string): void {
    this.opener.retarget(parseAddress(address));
    // A refusal of the old address (a `ws://` to a TCP pool) may not hold for the new: calls made
    // now wait for a connect to it, and a pool backing off connects at once.
    this.outage.changed();
  }

  /**
   * False while the server cannot be reached: in backoff, or reconnecting after a failure. A pool
   * never used, connecting for the first time, or ready is healthy.
   */
  get healthy(): boolean {
    const s = this._state;
    return s === 'ready' || s === 'idle' || (s === 'connecting' && this.outage.since === undefined);
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
   * When every window is full it waits in the pool, in order, for the first connection with
   * room: one freeing a slot, or one opened for it. A call its connection refused before it
   * ran is sent again (`transparentRetries`).
   */
  send(action: string | number, msg: Uint8Array, opts: CallOptions, notify: Notify): void {
    if (this._state === 'idle') this.start();
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    // In ticked time, as a waiting call's: no clock read. A bad timeout fails the call (InvalidArgument), never resent.
    const deadline = this.pace !== undefined && typeof timeoutMs === 'number' && timeoutMs > 0 ? this.due(timeoutMs) : NaN;
    const call = new PoolCall(this, action, this.transparentRetries === 0 ? EMPTY_BYTES : msg, opts, notify, deadline);
    this.submit(action, msg, call.opts, call.settle, opts.failFast === true);
  }

  /**
   * @internal A call made through `send` failed: sent again if its connection refused it before
   * it ran and it has retries and time left, else its caller is told (a refusal unrun saying so).
   */
  failed(call: PoolCall, err: RpcError | RemoteError): void {
    if (!resendable(err) || this.noResend(call)) return call.fail(unrunError(err, call.resent + 1));
    call.resending();
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
    // Off the clock (a resend's path, never a call's: one read): the ticks alone leave out up to a
    // period since the last one, which would go to the server as time the caller does not wait.
    const left = call.deadline - this.pace!.now();
    if (!(left > 0)) return call.fail(unrunError(err, call.resent));
    // A draining server's connection is retired here, and a fresh one opened if none is left.
    const slot = this.pick();
    if (slot) {
      slot.used = true;
      return slot.stream!.sendWithin(call.action, call.msg, call.opts, call.settle, left);
    }
    this.waits.enqueue(call.action, call.msg, call.opts, call.settle, call.opts.failFast === true, undefined, left);
  }

  /**
   * `send` with `failFast` apart, so a FailoverPool need not copy the caller's options. Returns
   * the call when it waits here for a connection, never sent: a FailoverPool may take it back
   * (`WaitingCall.release`) for a server that comes up meanwhile. @internal
   */
  submit(action: string | number, msg: Uint8Array, opts: CallOptions, notify: Notify, failFast: boolean): WaitingCall | undefined {
    if (this._state === 'closed') return void notify(poolClosed(this.shown), null);
    if (this._state === 'idle') this.start();
    const slot = this.pick();
    // Never past calls waiting for room (their flush may be a microtask away): after them, in
    // order. Past streams waiting for a connection that takes another stream: a call is no stream.
    if (slot && (this.waiting.size === 0 || this.waiting.size === this.waiting.opening)) {
      // A flag, turned into a time once per tick: no clock read per call.
      slot.used = true;
      return void slot.stream!.send(action, msg, opts, notify);
    }
    return this.waits.enqueue(action, msg, opts, notify, failFast);
  }

  /**
   * @internal Whether a call `submit`ted now would go out at once rather than wait here: an open
   * connection taking calls has room in its window, and no call waits for room before it (streams
   * waiting do not count, as in `submit`). It asks for no connection and retires none. A
   * FailoverPool asks, only for a call another server's full windows would keep waiting.
   */
  takesNow(): boolean {
    return this.waiting.size === this.waiting.opening && this.leastLoaded(true, false, false) != null;
  }

  /**
   * @internal A FailoverPool's call is about to wait here with no other server healthy: in an
   * outage, the pool connects now rather than at the end of its delay, once per outage, and the
   * calls made until that connect ends wait for it (`Outage.hurry`).
   */
  hurry(): void {
    this.outage.hurry();
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
      const deadline = t === undefined ? Infinity : typeof t === 'number' && t > 0 && t < Infinity ? this.due(t) : NaN;
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
    const left = s.deadline - this.pace!.now(); // off the clock, as a resent call's
    if (this._state === 'closed' || !(left > 0)) return s.fail(err, s.reopened);
    s.again();
    // A draining server's connection is retired by the pick, and a fresh one opened if none is left.
    this.openOn(s.stream, s.action, s.msg, s.deadline === Infinity ? s.opts : extended(s.opts, { timeoutMs: left }), s.opts.failFast === true);
  }

  /** @internal `openStream` for a stream made already: waits for a connection as a call does (its timeout, the connect budget). */
  openOn(stream: StreamCall, action: string | number, msg: Uint8Array, opts: CallOptions, failFast: boolean): StreamCall {
    if (this._state === 'closed') {
      stream.finish(poolClosed(this.shown), null);
      return stream;
    }
    if (this._state === 'idle') this.start();
    // A stream takes no window slot: it opens on a full connection too, without waiting for room.
    const slot = this.place(true);
    // Never past streams waiting for room (their flush may be a microtask away, `roomMade`): a
    // stream's reader that opens its next one as it ends took the room its end made for them.
    if (slot && this.waiting.opening === 0) {
      slot.used = true;
      return slot.stream!.openOn(stream, action, msg, opts);
    }
    const waiting = this.waits.enqueue(action, msg, opts, (err) => stream.finish(err, null), failFast, opening(stream, action, msg, opts));
    // A stream ended while it waits (cancelled, a `break`) leaves the queue now, not at its deadline.
    if (waiting) stream.waitsIn(() => waiting.fail(cancelled()));
    // Behind them, where there is room: it goes in their flush.
    if (slot) this.roomMade();
    return stream;
  }

  /**
   * Renews the credentials on every open connection (`ClientStream.renewCredentials`); given
   * `credentials`, they replace the `stream.credentials` option, so that connections opened
   * later present them too (one being opened now renews with them once it is up). Resolves
   * when the server accepted them on every open connection; rejects with the first refusal.
   */
  renewCredentials(credentials?: Credentials): Promise<void> {
    if (this._state === 'closed') return Promise.reject(poolClosed(this.shown));
    const refused = this.opener.renew(credentials);
    if (refused) return Promise.reject(refused);
    // The next connect presents these: calls made meanwhile wait for it, not fail with the old
    // refusal (nor Unreachable for an outage past the budget); backing off, it is made at once.
    this.outage.changed();
    return Promise.all(this.active.map((slot) => slot.stream!.renewCredentials(credentials))).then(() => undefined);
  }

  /**
   * Stops taking calls (they fail with Closed) and fails the calls still waiting for a
   * connection with Closed (`retry: 'safe'`: they were never sent); calls already on a
   * connection finish, and so do those waiting for room in a window (handed to the connections'
   * queues past `stream.maxQueued`: the pool took them under its own bound). Resolves when every
   * connection is closed.
   */
  close(): Promise<void> {
    if (!this.closing) {
      // Taken while a connection was up, as those on the wire were: they go to the connections'
      // own queues and finish with them, not Closed.
      if (this.active.length > 0 && this.waiting.size > 0) this.waits.flush(true);
      this.shutdown();
      const streams = [...this.active, ...this.retiring].map((s) => s.stream!);
      this.retireAll();
      this.closing = Promise.all([...streams.map((s) => s.close()), ...this.opener.pending]).then(() => undefined);
    }
    return this.closing;
  }

  /** Closes at once: every unsettled call fails (IO for calls on the wire, Closed for waiting ones). */
  destroy(reason = 'pool destroyed'): void {
    const streams = [...this.active, ...this.retiring].map((s) => s.stream!);
    if (!this.closing) {
      this.shutdown();
      this.retireAll();
      this.closing = Promise.all([...streams.map((s) => s.closed()), ...this.opener.pending]).then(() => undefined);
    }
    for (const s of streams) s.destroy(reason);
  }

  private start(): void {
    this.pace ??= new TickClock(this.clock, this.tickMs, this.defaultTimeoutMs, (now) => this.tick(now));
    this.connect();
  }

  /**
   * When a timeout of `timeoutMs` from now is over, in ticked time: the time itself, not
   * `TickClock.deadline`'s one period later (a tick's "surely passed"), as a FailoverPool's call's
   * (call-deadlines.ts). What is left of it is handed to a resend, and travels to its server: a
   * period more would give the server time its caller does not wait. Read only at a resend.
   */
  private due(timeoutMs: number): number {
    const pace = this.pace!;
    // After `deadline`, which may quicken the ticks for a short timeout (and so its period).
    return pace.deadline(timeoutMs) - pace.period;
  }

  /** The open connection with the most room in its window; none, asking for another, when every window is full. */
  private pick(): Slot | undefined {
    return this.choose(false);
  }

  /**
   * Where a stream opens: the open connection with the most room, full or not (a stream takes no
   * window slot), among those whose server takes another stream (`streamRoom`: its cap on open
   * streams per connection). When none does, another connection is asked for, up to
   * `maxConnections`, and the stream waits for it (undefined); with none coming, it goes where
   * calls would, and its server refuses it unrun (Overloaded, safe to retry). Placed by window
   * room alone, a pool to a server with 1024 streams open on one connection refused every
   * stream after, its other connections never opened. A stream asks for a connection as it
   * comes (`arriving`), as a call does; one waiting asks again only when none is coming (a
   * connect failed): each flush asking again opened `maxConnections` for one stream.
   */
  private place(arriving: boolean): Slot | undefined {
    const best = this.choose(true);
    if (best === undefined || best.stream!.streamRoom > 0) return best;
    const other = this.withStreamRoom();
    if (other !== undefined) return other;
    if (arriving || this.opener.connecting === 0) this.grow();
    return this.opener.connecting > 0 ? undefined : best;
  }

  /**
   * @internal True when a stream refused for room on one connection (`refusedForRoom`) may open on
   * another of this pool: one open that takes another stream, or one it may still open or is
   * opening (`maxConnections`, against which those a pick retires do not count). A FailoverPool
   * asks, to try its server again before another; a stream of `openStream` (PoolStream), to be
   * opened again at all.
   */
  hasStreamRoom(): boolean {
    if (this._state === 'closed') return false;
    if (this.withStreamRoom() !== undefined || this.opener.connecting > 0) return true;
    // Those that take no stream (a draining server's, closing ones) count against no cap: a pick
    // retires them (`replaceRefusing`) and connects afresh.
    if (this.active.some(refusing)) return true;
    return this.active.length < this.maxConnections && this.clock.now() >= this.outage.growAfter;
  }

  /** The open connection that takes another stream with the most room in its window, if any does. */
  private withStreamRoom(): Slot | undefined {
    let best: Slot | undefined;
    let room = -Infinity;
    for (const slot of this.active) {
      const s = slot.stream!;
      if (refusing(slot) || s.streamRoom <= 0) continue;
      const r = s.window - s.inFlight - s.queued;
      if (r > room) {
        best = slot;
        room = r;
      }
    }
    return best;
  }

  private choose(full: boolean): Slot | undefined {
    const best = this.leastLoaded(true, full);
    if (best !== null) return best;
    // Rare: a connection that takes no call. Retired (its siblings too, when its server drains),
    // and the rest walked again.
    this.replaceRefusing();
    return this.leastLoaded(false, full) ?? undefined;
  }

  /**
   * The connection with the most room in its window, asking for another when even it has none
   * (then none, unless `full`; `grow` false: asking for nothing); null, with `refusals`, at the
   * first that takes no call: one walk per call in the usual case.
   */
  private leastLoaded(refusals: boolean, full: boolean, grow = true): Slot | undefined | null {
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
    if (best && room <= 0) {
      if (grow) this.grow();
      // A call waits in the pool for the first connection with room, this one or a new one: in
      // this one's own queue it would wait for this one's slowest call.
      if (!full) return undefined;
    }
    return best;
  }

  /** The open connection with the most room, full or not, asking for nothing: where calls waiting for room go at a close. */
  private lightest(): Slot | undefined {
    return this.leastLoaded(false, true, false) ?? undefined;
  }

  /**
   * A connection's window has room, or one of its streams left (room under its server's cap on
   * open streams): the calls and streams waiting go, in a microtask, not from within that
   * connection's frame handling (the picks may retire and close connections). One read per
   * answer, and per stream's end, while none waits.
   */
  private readonly roomMade = (): void => {
    if (this.waiting.size === 0 || this.flushDue) return;
    this.flushDue = true;
    queueMicrotask(this.flushWaiting);
  };

  private readonly flushWaiting = (): void => {
    this.flushDue = false;
    if (this._state !== 'closed') this.waits.flush();
  };

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
    if (this.active.length === 0 && this.opener.connecting === 0) this.connect();
  }

  private grow(): void {
    // Runs per call while every window is full: at the cap, the usual case then, nothing else is read.
    const open = this.active.length;
    if (open >= this.maxConnections || open + this.opener.connecting >= this.maxConnections) return;
    if (this.clock.now() < this.outage.growAfter) return;
    this.connect();
  }

  /** Opens one more connection (`ConnOpener`); the pool is `connecting` while none is up. */
  private connect(): void {
    if (this.active.length === 0) this.setState('connecting');
    // onStateChange may have closed the pool: no connect for it (its opener is abandoned).
    if (this._state === 'closed') return;
    this.opener.open();
  }

  /**
   * What the pieces need of the pool, each through its own narrow link: one object for the
   * three, made once. A call on an open connection never comes through it (one that waits does).
   */
  private link(): OpenerLink & OutageLink & WaitLink {
    const self = this;
    return {
      // What the pieces' log lines and errors name the server by, never what they dial (their target).
      address: this.shown,
      clock: this.clock,
      logger: this.logger,
      get closed() {
        return self._state === 'closed';
      },
      get pace() {
        return self.pace!;
      },
      opened: (slot, stream) => this.opened(slot, stream),
      failed: (err, made) => this.connectFailed(err, made),
      lost: (slot, err) => this.lost(slot, err),
      retry: () => {
        if (this._state === 'backoff') this.connect();
      },
      outdated: (made, refusal) => this.opener.outdated(made, refusal),
      pick: () => this.pick(),
      place: () => this.place(false),
      lightest: () => this.lightest(),
    };
  }

  /** A new connection answered its first ping: calls go to it, and those waiting are sent. */
  private opened(slot: Slot, stream: ClientStream): void {
    const now = this.clock.now();
    slot.stream = stream;
    slot.openedAt = now;
    slot.lastUsed = now;
    slot.maxAge = this.maxAgeMs * (0.9 + 0.1 * Math.random());
    this.active.push(slot);
    stream.onRoom = this.roomMade;
    this.outage.over(now);
    this.setState('ready');
    this.opener.renewIfStale(slot, stream);
    // Make before break: connections over their age were kept only until this one was up.
    for (const s of this.active) if (s.expired) this.retire(s);
    this.waits.flush();
  }

  private connectFailed(err: Error, made: MadeWith): void {
    if (this._state === 'closed') return;
    if (this.active.length > 0) return this.outage.growFailed(err, this.clock.now());
    if (this.opener.connecting > 0) return; // another attempt is under way
    this.enterBackoff(err, made);
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
    this.logger.warn({ address: this.shown, err }, 'connection lost');
    if (this.active.length > 0) return;
    const cause = err ?? new Error('connection closed by the peer');
    if (this.opener.connecting > 0) {
      this.outage.lostLast(cause, this.clock.now());
      this.setState('connecting');
    } else {
      this.enterBackoff(cause, slot);
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
    this.logger.info({ address: this.shown }, 'the server closed an idle connection');
    if (this.active.length === 0 && this.opener.connecting === 0) this.connect();
    return true;
  }

  private enterBackoff(err: Error, made: MadeWith): void {
    const now = this.clock.now();
    // Refused with options changed since it began (a reloadTls, renewCredentials while it was
    // under way): nothing learnt of the current ones, so the calls waiting go on waiting, for a
    // connect made with them at once. One per change: that connect is made with the current ones.
    if (this.outage.failed(err, now, made)) return this.connect();
    this.setState('backoff');
    this.outage.backOff();
    this.waits.expire(now, this.active.length > 0);
    // What no retry heals, refused credentials (an mTLS server's alert refusing the client
    // certificate among them: core isHandshakeRefusal) or a connect the transport refused itself
    // (its own options: a TLS key that is not its certificate's): the calls waiting learn why now, not as
    // Unreachable after the budget, and so do calls made until a connect succeeds (`refusal()`,
    // read by WaitingCalls). The pool still backs off and tries again; a reloadTls or
    // renewCredentials that may mend it has the next call connect at once (`Outage.changed`).
    const refused = this.outage.refusal();
    if (refused !== undefined) this.waiting.failWhere(() => refused);
  }

  private tick(now: number): void {
    this.waits.expire(now, this.active.length > 0);
    // Calls and streams waiting for room while connections are up: room is told at once
    // (`roomMade`); this asks again for a connection a failed one put off (`growAfter`), and
    // replaces refusing ones.
    if (this.waiting.size !== 0 && this.active.length > 0) this.waits.flush();
    reapIdle(this.upkeep, now, this.idleTimeoutMs);
    // Over their age: a fresh connection replaces the last one kept (its backoff after a failed one).
    if (this.maxAgeMs !== Infinity && retireOld(this.upkeep, now) && this.opener.connecting === 0 && now >= this.outage.growAfter) this.connect();
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
    // Emptied in place: the upkeep's link holds this array.
    this.active.length = 0;
  }

  private shutdown(): void {
    const previous = this._state;
    this._state = 'closed';
    this.pace?.stop();
    this.outage.stop();
    this.opener.abandon(`pool for ${this.shown} closed`);
    // Stackless (withoutStack): one for each call waiting, made in the close's turn, naming no caller's code.
    this.waiting.failWhere(() => withoutStack(this.unsentAtClose));
    // Told once the close is whole (nothing waits here any more): what onStateChange does then
    // (a FailoverPool's application changing its servers) comes after the calls failed here.
    this.tell('closed', previous);
  }

  private setState(state: PoolState): void {
    const previous = this._state;
    if (state === previous) return;
    this._state = state;
    this.tell(state, previous);
  }

  private tell(state: PoolState, previous: PoolState): void {
    if (state === previous) return;
    this.logger.debug({ address: this.shown, state, previous }, 'pool state');
    if (!this.onStateChange) return;
    try {
      this.onStateChange(state, previous, this.address);
    } catch (err) {
      this.logger.error({ address: this.shown, err }, 'onStateChange threw');
    }
  }
}

/** A connection that takes no call: its server is draining, or it began closing by itself. Beside `pick`: it runs per call. */
const refusing = (slot: Slot): boolean => slot.stream!.peerClosing || slot.stream!.state !== 'open';
