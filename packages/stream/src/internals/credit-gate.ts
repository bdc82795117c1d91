import { invalidArgument } from '@skein/core';
import type { Drainable, DrainWaiters } from './drain-waiters.js';
import { errorOf, type ErrorSource } from './lazy-error.js';

/**
 * The sending side of a stream's flow control: bytes the receiver still takes. A sender may
 * send while its credit is above zero (an item may overdraw it, so an item larger than the
 * window still goes, alone); at zero or below it waits until the receiver grants more. So a
 * sender's memory holds at most the item it waits to send, however slow the receiver.
 */
export class CreditGate implements Drainable {
  /** `forDrain`: held for the send buffer (see `drainOnly`), so credit alone does not wake it. */
  private waiter: { resolve(): void; reject(err: Error): void; forDrain: boolean } | undefined;
  /** Why nothing may be sent any more: made when a write first needs it. */
  private failure: ErrorSource | undefined;

  constructor(
    private credit: number,
    /**
     * A write held for a full send buffer waits for its drain, whatever credit comes meanwhile
     * (a server's stream): credit is the peer's word, and one that reads nothing while it sends
     * credit frames (a byte's worth, or none) would otherwise let one more item into that buffer
     * for each frame read, memory growing with what it claims. Off for a client's stream: a pool
     * may open it on another connection than the one whose drain it waits for.
     */
    private readonly drainOnly = false,
  ) {}

  get available(): number {
    return this.credit;
  }

  /** True once `fail` was called: nothing may be sent any more. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /**
   * Undefined when the sender may go on now; else a promise that settles when it may (or fails).
   * `congested`: the connection's send buffer is full (its waiters), so the sender waits even
   * with credit, until it drains. Credit is the receiver's word for what it takes; the send
   * buffer is what it does take.
   */
  wait(congested?: DrainWaiters): Promise<void> | undefined {
    if (this.failure) return Promise.reject(this.error());
    if (this.credit > 0 && congested === undefined) return undefined;
    if (this.waiter) return Promise.reject(invalidArgument('one write at a time on a stream: await the previous write first'));
    congested?.hold(this);
    const forDrain = this.drainOnly && congested !== undefined;
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject, forDrain }));
  }

  spend(bytes: number): void {
    this.credit -= bytes;
  }

  grant(bytes: number): void {
    this.credit += bytes;
    if (this.credit > 0 && this.waiter !== undefined && !this.waiter.forDrain) this.wake();
  }

  /** The connection's send buffer drained: a sender held with credit left goes on; one without waits for credit from now on. */
  drained(): void {
    if (this.waiter === undefined) return;
    this.waiter.forDrain = false;
    if (this.credit > 0) this.wake();
  }

  /** No more sending: a waiting write and every later one fail with `err`. */
  fail(err: ErrorSource): void {
    this.failure ??= err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(this.error());
  }

  private wake(): void {
    const w = this.waiter!;
    this.waiter = undefined;
    w.resolve();
  }

  private error(): Error {
    return (this.failure = errorOf(this.failure!));
  }
}
