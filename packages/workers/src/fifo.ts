/** A first-in, first-out line on one array: `shift` is O(1), and the array is compacted as it drains. */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    // Compacting once half is dead keeps the array within twice the line, at O(1) amortized.
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Puts `items` ahead of every item in the line, in their order (rare: O(length)). */
  pushFront(items: readonly T[]): void {
    this.items = [...items, ...this.items.slice(this.head)];
    this.head = 0;
  }

  /** Drops the items `keep` refuses, in one pass; the order of the rest is kept. */
  prune(keep: (item: T) => boolean): void {
    const kept: (T | undefined)[] = [];
    for (let i = this.head; i < this.items.length; i++) if (keep(this.items[i]!)) kept.push(this.items[i]);
    this.items = kept;
    this.head = 0;
  }
}
