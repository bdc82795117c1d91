import { EMPTY_BYTES, fromDownstream, type RpcError } from '@skein/core';
import type { Notify } from '../client/call.js';
import { NO_OPTS, type CallOptions } from '../client/call-options.js';
import type { ClientStream } from '../client/client-stream.js';
import { WaitingLine, type Waiter } from '../internals/waiting-line.js';
import { cancellable, hookAbort } from '../client/call-abort.js';
import { markRefusedUnsent } from '../internals/unsent-refusal-mark.js';

/**
 * A call waiting in a pool for a connection. It settles at most once: sent on (it is then the
 * stream's), or failed here by its deadline, its AbortSignal, the connect budget or a close.
 */
export class WaitingCall implements Waiter {
  done = false;
  /** The queue the call waits in, told when the call settles there (keeps its count live). */
  queue: ConnectQueue | undefined;
  private readonly unhookAbort: (() => void) | undefined;

  constructor(
    readonly action: string | number,
    /** What the call carries: let go of when it fails here (`fail`). */
    public msg: Uint8Array,
    public opts: CallOptions,
    private readonly notify: Notify,
    /** When this call's connect budget started to run. */
    readonly budgetStart: number,
    /** When the call's timeout has surely passed (TickClock.deadline), in the pool's ticked time: it fails here then. */
    readonly deadline: number,
    /**
     * When its timeout itself is over, in the same time (`deadline` less the tick it adds): what
     * is left of this goes on with the call once a connection is up, so that the deadline its
     * server keeps is never longer than the time its caller waits.
     */
    readonly due: number,
    readonly failFast: boolean,
    /** A stream's opening (not a call): given the connection it goes on and what is left of its timeout. */
    public opens?: (on: ClientStream, timeoutMs: number) => void,
  ) {
    // Cancelled by its caller, unsent: its server did nothing, so a FailoverPool's health counts it neither way.
    if (cancellable(opts)) this.unhookAbort = hookAbort(opts, (why) => this.fail(markRefusedUnsent(why)));
  }

  /** Hands the call on to a stream: from now on the stream settles it. */
  release(): Notify {
    this.settle();
    return this.notify;
  }

  fail(err: RpcError): void {
    if (this.done) return;
    this.settle();
    // The queue keeps a settled call until a later shift or compaction (an abort makes none,
    // and no connection may come): what it carries, a blob of its options or a stream's
    // opening, must not wait with it. Never read again: a done call is skipped.
    this.msg = EMPTY_BYTES;
    this.opts = NO_OPTS;
    this.opens = undefined;
    // A pool's failure of a call it never sent (a server's refusal of its credentials, naming
    // why): about this call, not a request its caller answers (RpcError.downstream), as a Call's.
    this.notify(fromDownstream(err), null);
  }

  private settle(): void {
    this.done = true;
    if (this.queue) {
      this.queue.settled(this.opens !== undefined);
      this.queue = undefined;
    }
    if (this.unhookAbort !== undefined) this.unhookAbort();
  }
}

/**
 * A bounded FIFO of waiting calls. Calls that settle while waiting (aborted, timed out) leave
 * the count at once and the array lazily, so `size` costs nothing however many calls wait.
 * `onBusy` hears when the first call starts waiting and when the last one stops.
 */
export class ConnectQueue {
  private readonly line = new WaitingLine<WaitingCall>();
  /**
   * Streams' openings among the calls still waiting: a stream may wait for a connection that
   * takes another stream while the open ones have room for calls, and a call goes past it.
   */
  opening = 0;

  constructor(
    readonly max: number,
    private readonly onBusy: (busy: boolean) => void = () => {},
  ) {}

  /** Calls still waiting. */
  get size(): number {
    return this.line.size;
  }

  /** Queues a call; false when `max` calls are already waiting. */
  push(call: WaitingCall): boolean {
    if (this.line.size >= this.max) return false;
    this.line.push(call);
    call.queue = this;
    if (call.opens) this.opening++;
    if (this.line.size === 1) this.onBusy(true);
    return true;
  }

  /** The oldest call still waiting, taken off the queue. */
  shift(): WaitingCall | undefined {
    const call = this.line.shift();
    if (!call) return undefined;
    call.queue = undefined;
    if (call.opens) this.opening--;
    if (this.line.size === 0) this.onBusy(false);
    return call;
  }

  /** Puts a call taken by `shift` back in front. */
  unshift(call: WaitingCall): void {
    if (call.done) return;
    this.line.unshift(call);
    call.queue = this;
    if (call.opens) this.opening++;
    if (this.line.size === 1) this.onBusy(true);
  }

  /** Fails the waiting calls `why` picks an error for (undefined: keep waiting). */
  failWhere(why: (call: WaitingCall) => RpcError | undefined): void {
    this.each((call) => {
      const err = why(call);
      if (err) call.fail(err);
    });
  }

  /** Runs `fn` on each call still waiting, oldest first; those it settled (sent, failed) leave the line. */
  each(fn: (call: WaitingCall) => void): void {
    // A snapshot: settling a call runs its callback, which may queue another call.
    for (const call of this.line.waiting()) if (!call.done) fn(call);
    this.line.compact();
  }

  /** @internal A call waiting here settled (by its signal, deadline or a close); `opens`: a stream's opening. */
  settled(opens: boolean): void {
    if (opens) this.opening--;
    this.line.settled();
    if (this.line.size === 0) this.onBusy(false);
  }
}
