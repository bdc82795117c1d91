/** Something that waits its turn and may settle (aborted, timed out) before it comes. */
export interface Waiter {
  readonly done: boolean;
}

/**
 * A FIFO of waiters, some of which settle before their turn. Those leave the count at once
 * (whoever settles one calls `settled()`) and the array lazily: it is compacted once settled
 * entries outnumber the waiting ones, so it stays within about twice the waiting count and
 * each compaction at least halves it (amortized O(1) a push). `size` costs nothing.
 */
export class WaitingLine<T extends Waiter> {
  private items: (T | undefined)[] = [];
  private head = 0;
  /** Entries in `items[head..]` not yet settled. */
  private live = 0;

  /** Waiters still waiting. */
  get size(): number {
    return this.live;
  }

  push(item: T): void {
    const dead = this.items.length - this.head - this.live;
    if (dead > 16 && dead >= this.live) this.compact();
    this.items.push(item);
    this.live++;
  }

  /** The oldest waiter still waiting, taken out of the line. */
  shift(): T | undefined {
    const items = this.items;
    while (this.head < items.length) {
      const item = items[this.head];
      items[this.head++] = undefined;
      if (!item || item.done) continue;
      this.live--;
      // A line that never empties would keep its taken head forever: drop it once it is most of the array.
      if (this.head > 1024 && this.head * 2 > items.length) this.compact();
      return item;
    }
    // Empty: start over in place, allocating nothing (and nothing at all when already so: the
    // common case, asked on every reply).
    if (this.head !== 0) {
      items.length = 0;
      this.head = 0;
    }
    return undefined;
  }

  /** Puts a waiter taken by `shift` back in front. */
  unshift(item: T): void {
    if (item.done) return;
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
    this.live++;
  }

  /** A waiter still in the line settled: it leaves the count now and the array later. */
  settled(): void {
    this.live--;
  }

  /** The waiters still waiting, oldest first: a copy, as settling one may change the line. */
  waiting(): T[] {
    const out: T[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i];
      if (item && !item.done) out.push(item);
    }
    return out;
  }

  /** Takes every waiter out, returning those still waiting. */
  drain(): T[] {
    const out = this.waiting();
    this.items = [];
    this.head = 0;
    this.live = 0;
    return out;
  }

  /** Drops settled entries now: after settling many at once, so that they are not kept until the next push. */
  compact(): void {
    this.items = this.waiting();
    this.head = 0;
  }
}
