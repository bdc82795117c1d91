import type { RpcError } from '@skein/core';
import { cancelled, type Notify } from './call.js';
import type { CallOptions } from './client-stream.js';

/**
 * A call waiting in a pool for a connection. It settles at most once: sent on (it is then the
 * stream's), or failed here by its deadline, its AbortSignal, the connect budget or a close.
 */
export class WaitingCall {
  done = false;
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
    if (this.onAbort) this.opts.signal!.removeEventListener('abort', this.onAbort);
  }
}

/** A bounded FIFO of waiting calls; calls that settled while waiting are dropped on the way. */
export class ConnectQueue {
  private calls: WaitingCall[] = [];
  private head = 0;

  constructor(readonly max: number) {}

  /** Calls still waiting. */
  get size(): number {
    let n = 0;
    for (let i = this.head; i < this.calls.length; i++) if (!this.calls[i]!.done) n++;
    return n;
  }

  /** Queues a call; false when `max` calls are already waiting. */
  push(call: WaitingCall): boolean {
    if (this.calls.length - this.head >= this.max) this.compact();
    if (this.calls.length >= this.max) return false;
    this.calls.push(call);
    return true;
  }

  /** The oldest call still waiting, taken off the queue. */
  shift(): WaitingCall | undefined {
    while (this.head < this.calls.length) {
      const call = this.calls[this.head++]!;
      if (!call.done) return call;
    }
    this.calls = [];
    this.head = 0;
    return undefined;
  }

  /** Puts a call taken by `shift` back in front. */
  unshift(call: WaitingCall): void {
    if (this.head > 0) this.calls[--this.head] = call;
    else this.calls.unshift(call);
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

  private compact(): void {
    this.calls = this.calls.slice(this.head).filter((c) => !c.done);
    this.head = 0;
  }
}
