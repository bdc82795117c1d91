import { invalidArgument } from '@skein/core';
import type { Drainable, DrainWaiters } from './drain-waiters.js';
import { errorOf, type ErrorSource } from './lazy-error.js';

/**
 * The sending side of a stream's flow control: bytes the receiver still takes. A sender may
 * send while its credit is above zero (an item may overdraw it, so an item larger than the
 * window still goes, alone); at zero or below it waits until the receiver grants more. So a
 * sender's memory holds at most the item it waits to send, however slow the receiver.
 *
 * A write held for a full send buffer waits for that buffer's drain, whatever credit comes
 * meanwhile: credit is the peer's word, and one that reads nothing while it sends credit frames
 * (a byte's worth, or none) would otherwise let one more item into that buffer for each frame
 * read, memory growing with what it claims. A client's stream that a pool moves to another
 * connection is held again against that one (`carriedTo`), so none waits for a drain that its
 * old connection, dead or not, may never bring.
 */
export class CreditGate implements Drainable {
  /** `drains`: the send buffer's waiters it is held by (so credit alone does not wake it), or undefined when it waits for credit alone. */
  private waiter: { resolve(): void; reject(err: Error): void; drains: DrainWaiters | undefined } | undefined;
  /** Why nothing may be sent any more: made when a write first needs it. */
  private failure: ErrorSource | undefined;

  constructor(private credit: number) {}

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
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject, drains: congested }));
  }

  spend(bytes: number): void {
    this.credit -= bytes;
  }

  grant(bytes: number): void {
    this.credit += bytes;
    if (this.credit > 0 && this.waiter !== undefined && this.waiter.drains === undefined) this.wake();
  }

  /**
   * A connection's send buffer drained (`by`: its waiters): a sender held for it with credit left
   * goes on; one without waits for credit from now on. A drain of a connection the stream has
   * left (`carriedTo`) is not its own: ignored.
   */
  drained(by: DrainWaiters): void {
    if (this.waiter === undefined || this.waiter.drains !== by) return;
    this.waiter.drains = undefined;
    if (this.credit > 0) this.wake();
  }

  /**
   * The stream is now carried by another connection (a pool moved it), `congested` being that
   * one's waiters while its send buffer is full: a waiting write is held for its drain, else it
   * waits for credit alone, and the old connection's drain, which may never come, no longer counts.
   */
  carriedTo(congested: DrainWaiters | undefined): void {
    const w = this.waiter;
    if (w === undefined || w.drains === congested) return;
    w.drains = congested;
    congested?.hold(this);
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
