import type { RpcError } from '@skein/core';
import { cancelled, type Notify } from '../client/call.js';
import type { CallOptions } from '../client/call-options.js';

/**
 * A call waiting in a pool for a connection. It settles at most once: sent on (it is then the
 * stream's), or failed here by its deadline, its AbortSignal, the connect budget or a close.
 */
export class WaitingCall {
  done = false;
  /** The queue the call waits in, told when the call settles there (keeps its count live). */
  queue: ConnectQueue | undefined;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    readonly action: string | number,
    readonly msg: Uint8Array,
    readonly opts: CallOptions,
    private readonly notify: Notify,
    /** When this call's connect budget started to run. */
    readonly budgetStart: number,
    /** The call's own deadline (its timeout). */
    readonly deadline: number,
    readonly failFast: boolean,
  ) {
    const signal = opts.signal;
    if (signal) {
      this.onAbort = () => this.fail(cancelled());
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  /** Hands the call on to a stream: from now on the stream settles it. */
  release(): Notify {
    this.settle();
    return this.notify;
  }

  fail(err: RpcError): void {
    if (this.done) return;
    this.settle();
    this.notify(err, null);
  }

  private settle(): void {
    this.done = true;
    if (this.queue) {
      this.queue.settled();
      this.queue = undefined;
    }
    if (this.onAbort) this.opts.signal!.removeEventListener('abort', this.onAbort);
  }
}

/**
 * A bounded FIFO of waiting calls. Calls that settle while waiting (aborted, timed out) leave
 * the count at once and the array lazily, so `size` costs nothing however many calls wait.
 */
export class ConnectQueue {
  private calls: WaitingCall[] = [];
  private head = 0;
  /** Calls in `calls[head..]` not yet settled. */
  private live = 0;

  constructor(readonly max: number) {}

  /** Calls still waiting. */
  get size(): number {
    return this.live;
  }

  /** Queues a call; false when `max` calls are already waiting. */
  push(call: WaitingCall): boolean {
    if (this.live >= this.max) return false;
    // Settled calls are dropped once they outnumber the waiting ones: the array stays within
    // about twice `max`, and each compaction at least halves it (amortized O(1) a push).
    const dead = this.calls.length - this.head - this.live;
    if (dead > 16 && dead >= this.live) this.compact();
    this.calls.push(call);
    call.queue = this;
    this.live++;
    return true;
  }

  /** The oldest call still waiting, taken off the queue. */
  shift(): WaitingCall | undefined {
    while (this.head < this.calls.length) {
      const call = this.calls[this.head++]!;
      if (call.done) continue;
      call.queue = undefined;
      this.live--;
      return call;
    }
    this.calls = [];
    this.head = 0;
    return undefined;
  }

  /** Puts a call taken by `shift` back in front. */
  unshift(call: WaitingCall): void {
    if (call.done) return;
    if (this.head > 0) this.calls[--this.head] = call;
    else this.calls.unshift(call);
    call.queue = this;
    this.live++;
  }

  /** Fails the waiting calls `why` picks an error for (undefined: keep waiting). */
  failWhere(why: (call: WaitingCall) => RpcError | undefined): void {
    // A snapshot: failing a call runs its callback, which may queue another call.
    for (const call of this.calls.slice(this.head)) {
      if (call.done) continue;
      const err = why(call);
      if (err) call.fail(err);
    }
    this.compact();
  }

  /** @internal A call waiting here settled (by its signal, deadline or a close). */
  settled(): void {
    this.live--;
  }

  private compact(): void {
    this.calls = this.calls.slice(this.head).filter((c) => !c.done);
    this.head = 0;
  }
}
