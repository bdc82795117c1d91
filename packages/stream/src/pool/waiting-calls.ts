import { ErrorCode, RpcError, extended, fromDownstream, withoutStack, type Clock } from '@skein/core';
import { abortedAlready } from '../client/call-abort.js';
import type { Notify } from '../client/call.js';
import type { CallOptions } from '../client/call-options.js';
import type { StreamCall } from '../client/stream-call.js';
import { callTimeout } from '../internals/checks.js';
import { markRefusedUnsent } from '../internals/unsent-refusal-mark.js';
import type { TickClock } from '../internals/tick-clock.js';
import { WaitingCall, type ConnectQueue } from './connect-queue.js';
import type { Outage } from './outage.js';
import type { Slot } from './pool-slot.js';

/** What the calls waiting for a connection need of their pool. */
export interface WaitLink {
  readonly address: string;
  readonly clock: Clock;
  /** The pool's ticked time, for the calls' deadlines: made at the pool's first call, before any call waits. */
  readonly pace: TickClock;
  /** The connection a call goes on now (the pool's pick): one with room in its window; undefined while none is up or has room. */
  pick(): Slot | undefined;
  /**
   * Where a waiting stream opens now, with room or not (it takes no window slot); undefined while
   * none is up, or while every one is at its server's cap on open streams and another is coming.
   */
  place(): Slot | undefined;
  /** The connection with the most room, full or not, asking for nothing (no connect): where calls go at a close. */
  lightest(): Slot | undefined;
  /** The pool is closed: no call waits in it (nothing would send or fail it). */
  readonly closed: boolean;
}

/**
 * The calls waiting in a pool for a connection (in its ConnectQueue): queued with their deadline
 * and connect budget, sent in order once one is up or has room in its window, failed by their
 * deadline, the budget or an outage. Out of the pool because a call comes here only when no
 * connection is up or every window is full (or its resend finds none such): a call on a
 * connection with room never does.
 */
export class WaitingCalls {
  /** A stream's opening may wait in the queue: `flush` looks for those behind a call that waits for room. */
  private streams = false;
  /** The last `expire` that found a connection up: the connect budget of a call that waited for room runs from there. */
  private connectedAt = -Infinity;
  /**
   * No waiting call's deadline comes before this (ticked time): a lower bound, lowered by each
   * call queued and made exact by each walk. While a connection is up only deadlines fail a
   * waiting call, so a tick walks the queue only once one may be due: calls waiting for room
   * behind full windows (up to `maxQueued`, 10 000 by default) cost a tick nothing, where a walk
   * and two copies of the queue per tick cost ~5 ms of CPU a second per 1 000 waiting.
   */
  private nextDue = Infinity;

  constructor(
    private readonly queue: ConnectQueue,
    private readonly outage: Outage,
    /** A call's timeout when it sets none (`stream.timeoutMs`). */
    private readonly defaultTimeoutMs: number,
    /** How long calls wait while connect attempts fail (`connectBudgetMs`). */
    private readonly budgetMs: number,
    private readonly link: WaitLink,
  ) {}

  /** Queues a call until a connection is up; returns it, or undefined when it failed at once (told through `notify`). */
  enqueue(action: string | number, msg: Uint8Array, opts: CallOptions, notify: Notify, failFast: boolean, opens?: WaitingCall['opens'], boundMs?: number): WaitingCall | undefined {
    // The pick before this may have connected (from idle, or replacing a draining connection),
    // and so run the application's onStateChange, whose code may have closed the pool: its ticker
    // and outage are stopped, and a call queued now would never be sent nor failed. It fails as
    // a call on a closed pool does. Read only by a call that waits: none on a ready connection.
    if (this.link.closed) return void notify(poolClosed(this.link.address), null);
    let timeoutMs: number;
    try {
      // A resent call waits only for what is left of its timeout.
      timeoutMs = boundMs !== undefined ? Math.ceil(boundMs) : callTimeout(opts.timeoutMs, this.defaultTimeoutMs);
    } catch (err) {
      // A bad timeout, refused unsent: nothing of it for a FailoverPool's breaker to count.
      notify(fromDownstream(markRefusedUnsent(err as RpcError)), null);
      return undefined;
    }
    // Aborted already: its caller's word comes first, as on a ClientStream (not the outage's Unreachable).
    const aborted = abortedAlready(opts);
    if (aborted) return void notify(markRefusedUnsent(aborted), null);
    // The last connect failed with what no retry heals (refused credentials, the transport's own
    // options): the call fails with that at once, as the calls that waited did, unless those
    // options changed since (then the pool connects with the new ones, and the call waits).
    const refused = this.outage.refusal();
    if (refused !== undefined) return void notify(refused, null);
    const now = this.link.clock.now();
    // The budget from the outage's start, or from a change that outdated its refusal (`waitFrom`).
    const outage = this.outage.waitFrom;
    // While an early connect is under way (Outage.hurry), a call waits for its outcome.
    if (outage !== undefined && !this.outage.hurrying && (failFast || now - outage >= this.budgetMs)) return void notify(this.outage.unreachable(now), null);
    const pace = this.link.pace;
    const deadline = pace.deadline(timeoutMs);
    // Less the period after `deadline`, which may quicken the ticks for a short timeout.
    const call = new WaitingCall(action, msg, opts, notify, outage ?? now, deadline, deadline - pace.period, failFast, opens);
    if (!this.queue.push(call)) {
      call.release();
      notify(new RpcError(ErrorCode.Overloaded, `more than ${this.queue.max} calls waiting for a connection to ${this.link.address}`), null);
      return undefined;
    }
    if (opens) this.streams = true;
    if (deadline < this.nextDue) this.nextDue = deadline;
    return call;
  }

  /**
   * Sends the calls that waited, in order, each on a connection with room in its window; the
   * first that finds none waits on, and the calls behind it too. Streams, which take no window
   * slot, open meanwhile. `closing`: every one goes to a connection, full or not, to wait in its
   * own queue, past that queue's `maxQueued` (the pool closes: calls it took while a connection
   * was up finish with it, none refused for a bound it already admitted them under).
   */
  flush(closing = false): void {
    const now = this.link.clock.now();
    // Ticked time read with the clock, once for all: the ticks alone leave out up to a period
    // since the last one, which would go to the server as time the caller does not wait.
    const ticked = this.link.pace.now();
    // Streams that wait for a connection taking another stream while those up have room for
    // calls: the calls behind them go on (as `ConnPool.submit` sends past them), then they are
    // put back in front, in order.
    let aside: WaitingCall[] | undefined;
    for (let call = this.queue.shift(); call; call = this.queue.shift()) {
      const slot = closing ? this.link.lightest() : call.opens ? this.link.place() : this.link.pick();
      if (!slot && this.link.closed) {
        // The pick connected, and onStateChange closed the pool: this call was out of the queue
        // when the close failed those waiting, and back in it nothing would ever send or fail it.
        // Sent nowhere: a FailoverPool whose server was removed so may place it again (`neverLeft`).
        call.fail(poolClosed(this.link.address));
        continue;
      }
      if (!slot && call.opens) {
        (aside ??= []).push(call);
        continue;
      }
      if (!slot) {
        // Every window full.
        this.queue.unshift(call);
        break;
      }
      this.send(call, slot, now, ticked, closing);
    }
    if (aside) for (let i = aside.length - 1; i >= 0; i--) this.putBack(aside[i]!);
    // A walk of the whole queue, only when a stream may wait in it (while no connection is up,
    // or every one is at its cap on open streams): calls waiting for room alone cost nothing more per flush.
    if (!this.streams || closing || this.queue.size === 0) return;
    this.streams = false;
    this.queue.each((call) => {
      if (!call.opens) return;
      const slot = this.link.place();
      if (slot) this.send(call, slot, now, ticked);
      else this.streams = true;
    });
  }

  /** A stream's opening set aside by `flush` goes back in front; failed, were the pool closed by a later pick's onStateChange. */
  private putBack(call: WaitingCall): void {
    if (this.link.closed) call.fail(poolClosed(this.link.address));
    else this.queue.unshift(call);
  }

  /** `closing`: past the connection's `maxQueued` (ClientStream.sendAccepted): the call was accepted by the pool's own bound. */
  private send(call: WaitingCall, slot: Slot, now: number, ticked: number, closing = false): void {
    // In ticked time, as the deadline: what is left of the call's timeout (its own, or the
    // default), not the tick more its own expiry here allows, which would travel to the server
    // as time its caller does not wait. It bounds the call on the stream without becoming its
    // timeout: a call with none of its own sends no deadline, as on a ready connection.
    const remaining = call.due - ticked;
    if (remaining <= 0) return call.fail(neverSent(call.opts.timeoutMs ?? this.defaultTimeoutMs, this.outage.lastError));
    slot.lastUsed = now;
    const notify = call.release();
    if (call.opens) call.opens(slot.stream!, remaining);
    else if (closing) slot.stream!.sendAccepted(call.action, call.msg, call.opts, notify, remaining);
    else slot.stream!.sendWithin(call.action, call.msg, call.opts, notify, remaining);
  }

  /** Fails waiting calls past their deadline and, with no connection up, past the connect budget or failing fast in an outage. */
  expire(now: number, connected: boolean): void {
    const from = this.outage.waitFrom;
    const inOutage = from !== undefined;
    if (connected) this.connectedAt = now;
    // The budget runs from the last moment a connection was up at the earliest (the outage's
    // start, or a change that outdated its refusal, or the last check that saw one): a call that
    // waited for room, longer than the budget, is not Unreachable the moment its pool loses, or
    // retires, its connections.
    const upTo = inOutage && from > this.connectedAt ? from : this.connectedAt;
    const elapsed = this.link.pace.elapsed;
    if (connected && elapsed < this.nextDue) return;
    // Calls queued during the walk (by a failed one's callback) lower it as they come.
    this.nextDue = Infinity;
    this.queue.failWhere((call) => {
      if (call.deadline <= elapsed) return neverSent(call.opts.timeoutMs ?? this.defaultTimeoutMs, this.outage.lastError);
      if (!connected && !this.outage.hurrying) {
        const start = upTo > call.budgetStart ? upTo : call.budgetStart;
        if (now - start >= this.budgetMs || (call.failFast && inOutage)) return withoutStack(() => this.outage.unreachable(now));
      }
      if (call.deadline < this.nextDue) this.nextDue = call.deadline;
      return undefined;
    });
  }
}

/**
 * What a call that waited out its timeout (`timeoutMs`) for a connection fails with: it never ran.
 * In an outage, `lastConnect` (Outage.lastError) says why no connection came: its cause, named
 * in the message (as gRPC's "last error"), so that the caller need not find it in the pool's log.
 * Only on this path: a healthy call costs nothing more, and the cause is the outage's one error, shared.
 * For a FailoverPool's breaker and outlier score, a failed connect (`lastConnect`) is its server's
 * failure, and so is this; with none (it waited for room behind full windows, or for a first
 * connect not failed yet) its server did nothing with it, and it counts neither way
 * (`markRefusedUnsent`): the calls holding the windows, and the connect's own outcome, count.
 */
const neverSent = (timeoutMs: number, lastConnect: Error | undefined): RpcError =>
  // Stackless (withoutStack): made by the sweep for many calls in one tick, a stack names only the pool's ticker.
  withoutStack(() => {
    const waited = `call waited ${timeoutMs} ms for a connection and was never sent`;
    if (lastConnect === undefined) return markRefusedUnsent(new RpcError(ErrorCode.Timeout, waited, { retry: 'safe' }));
    return new RpcError(ErrorCode.Timeout, `${waited}; last connect: ${lastConnect.message}`, { cause: lastConnect, retry: 'safe' });
  });

/**
 * The errors of `poolClosed`: weakly held, read by identity (`neverLeft`). Internal to the
 * package: a mark between a ConnPool and its FailoverPool, no error code of its own.
 */
const unsentUnderClose = new WeakSet<RpcError>();

/**
 * What a call the pool takes once closed fails with (a call made on it, or one a flush took out of
 * the queue when the pick for it closed the pool: an application's onStateChange, from the
 * connect it made): Closed (`retry: 'safe'`: it never ran). Never handed to a connection, so
 * never written to a socket: marked so (`neverLeft`).
 */
export function poolClosed(address: string): RpcError {
  const err = new RpcError(ErrorCode.Closed, `pool for ${address} is closed`, { retry: 'safe' });
  unsentUnderClose.add(err);
  return err;
}

/**
 * True for the failure of a call that never left this process because its ConnPool was closed
 * when it came or as it was to be sent (`poolClosed`). Never true of a call handed to a
 * connection, whatever that connection did with it.
 */
export const neverLeft = (err: unknown): boolean => err instanceof RpcError && unsentUnderClose.has(err);

/**
 * A waiting stream's opening. Made apart from the pool's `openOn`: a closure there would share
 * its scope with the queue's callback, and keep the opening's msg and options for as long as the
 * queue keeps that (lazily, past a cancel).
 */
export function opening(stream: StreamCall, action: string | number, msg: Uint8Array, opts: CallOptions): WaitingCall['opens'] {
  return (on, timeoutMs) => void on.openOn(stream, action, msg, opts.timeoutMs === undefined ? opts : extended(opts, { timeoutMs }));
}
