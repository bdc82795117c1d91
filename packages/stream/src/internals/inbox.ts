import { invalidArgument } from '@skein/core';
import type { Reply } from '../client/call.js';

/**
 * The receiving side of a stream: items in arrival order, read with `for await`. It holds what
 * arrived and was not read yet; credit goes back to the sender as items are read, not as they
 * arrive, so a slow reader holds the sender back instead of filling this buffer.
 */
export class Inbox implements AsyncIterable<Reply> {
  private readonly items: Reply[] = [];
  private head = 0;
  /** Bytes of credit read since the last grant. */
  private unreported = 0;
  /** Bytes received and not read yet (credit cost, header allowance included). */
  buffered = 0;
  private ended = false;
  private failure: Error | undefined;
  private reader: { resolve(r: IteratorResult<Reply>): void; reject(err: Error): void } | undefined;
  /** Credit the sender still has, as this side counts it: an item that arrives at zero or below broke the rule. */
  private senderCredit: number;

  constructor(
    private readonly cost: (item: Reply) => number,
    /** The receive window: read bytes go back once a quarter of it is read. */
    private readonly window: number,
    private readonly grant: (bytes: number) => void,
  ) {
    this.senderCredit = window;
  }

  /** True once the sender ended or the stream failed: no more items come. */
  get closed(): boolean {
    return this.ended || this.failure !== undefined;
  }

  /**
   * An item arrived. False when the sender had no credit left for it (a broken or hostile
   * peer): it is not kept, so memory stays within the window and one item.
   */
  push(item: Reply): boolean {
    if (this.senderCredit <= 0) return false;
    this.senderCredit -= this.cost(item);
    if (this.closed) return true;
    if (this.reader) {
      const r = this.reader;
      this.reader = undefined;
      this.consumed(item);
      r.resolve({ value: item, done: false });
      return true;
    }
    this.buffered += this.cost(item);
    this.items.push(item);
    return true;
  }

  /** The sender sent its last item: reading ends after the buffered ones. */
  end(): void {
    if (this.closed) return;
    this.ended = true;
    this.wake();
  }

  /** The stream failed: reading fails after the buffered items (those arrived; they are read). */
  fail(err: Error): void {
    if (this.closed) return;
    this.failure = err;
    this.wake();
  }

  /** Drops what was not read (the reader is gone). */
  discard(err: Error): void {
    this.items.length = this.head = 0;
    this.buffered = 0;
    this.fail(err);
  }

  next(): Promise<IteratorResult<Reply>> {
    if (this.head < this.items.length) {
      const item = this.items[this.head]!;
      this.items[this.head++] = undefined as unknown as Reply;
      if (this.head > 1024 && this.head * 2 > this.items.length) this.items.splice(0, this.head), (this.head = 0);
      this.buffered -= this.cost(item);
      this.consumed(item);
      return Promise.resolve({ value: item, done: false });
    }
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    if (this.reader) return Promise.reject(invalidArgument('one read at a time on a stream: await the previous next() first'));
    return new Promise((resolve, reject) => (this.reader = { resolve, reject }));
  }

  [Symbol.asyncIterator](): AsyncIterator<Reply> {
    return { next: () => this.next() };
  }

  private consumed(item: Reply): void {
    this.unreported += this.cost(item);
    if (this.unreported * 4 >= this.window && !this.closed) {
      const n = this.unreported;
      this.unreported = 0;
      this.senderCredit += n;
      this.grant(n);
    }
  }

  private wake(): void {
    if (!this.reader || this.head < this.items.length) return;
    const r = this.reader;
    this.reader = undefined;
    if (this.failure) r.reject(this.failure);
    else r.resolve({ value: undefined, done: true });
  }
}
