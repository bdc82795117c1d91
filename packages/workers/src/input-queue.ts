import type { ConnInfo, ServerRequest } from '@skein/stream';

/** A connection as the pool's queue counts it: the pool's number for it, and its calls waiting there. */
export interface QueuedConn {
  readonly key: number;
  /** Its calls in the input queue now (not those the workers hold). */
  queued: number;
}

/**
 * The pool's input queue: first in, first out, each call beside its connection, whose count of
 * waiting calls it keeps, and the number of connections with any. Per call that is an add at
 * `push` and a subtract at `shift` (the connection's record is found once, where the pool looks
 * it up anyway), so that a full queue can tell, without a scan, whether a connection holds more
 * than its share (queue-bound.ts). `shift` is O(1); the arrays are compacted as they drain.
 */
export class InputQueue {
  private items: (ServerRequest | undefined)[] = [];
  private owners: (QueuedConn | undefined)[] = [];
  private head = 0;
  /** Connections with at least one call here. */
  private active = 0;
  /** The connection of the call `shift` returned last (`takeOver` near the head shifts too): read right after a `shift`. */
  shiftedFrom: QueuedConn | undefined;

  /** The connections' records, for the calls put back at the head (`pushFront`, never on a call's path). */
  constructor(private readonly records: WeakMap<ConnInfo, QueuedConn>) {}

  get length(): number {
    return this.items.length - this.head;
  }

  push(req: ServerRequest, from: QueuedConn): void {
    this.items.push(req);
    this.owners.push(from);
    if (from.queued++ === 0) this.active++;
  }

  shift(): ServerRequest | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head];
    const from = this.owners[this.head]!;
    this.items[this.head] = undefined;
    this.owners[this.head++] = undefined;
    if (--from.queued === 0) this.active--;
    this.shiftedFrom = from;
    // Compacting once half is dead keeps the arrays within twice the line, at O(1) amortized.
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.owners.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.owners = this.owners.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Puts `reqs` ahead of every call in the line, in their order (rare: O(length)). Each came through `push` once. */
  pushFront(reqs: readonly ServerRequest[]): void {
    const owners = reqs.map((r) => this.records.get(r.conn)!);
    for (const from of owners) if (from.queued++ === 0) this.active++;
    this.items = [...reqs, ...this.items.slice(this.head)];
    this.owners = [...owners, ...this.owners.slice(this.head)];
    this.head = 0;
  }

  /** Drops the calls `keep` refuses, in one pass; the order of the rest is kept. */
  prune(keep: (req: ServerRequest) => boolean): void {
    const items: (ServerRequest | undefined)[] = [];
    const owners: (QueuedConn | undefined)[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const req = this.items[i]!;
      const from = this.owners[i]!;
      if (keep(req)) {
        items.push(req);
        owners.push(from);
      } else if (--from.queued === 0) this.active--;
    }
    this.items = items;
    this.owners = owners;
    this.head = 0;
  }

  /**
   * The share of a queue of `bound` places each connection with calls here has, `from` counted
   * among them: with n such connections, at least one holds more than bound / n whenever another
   * holds less and the queue is full.
   */
  shareOf(from: QueuedConn, bound: number): number {
    return Math.floor(bound / (this.active + (from.queued === 0 ? 1 : 0)));
  }

  /**
   * Takes out the newest (or the oldest) call of a connection that holds more than `share`, or of
   * `only` when given (whatever it holds); undefined if there is none. A scan (O(length)), made
   * only for a full queue.
   */
  takeOver(share: number, newest: boolean, only?: QueuedConn): ServerRequest | undefined {
    const matches = (from: QueuedConn): boolean => (only === undefined ? from.queued > share : from === only);
    if (newest) {
      for (let i = this.items.length - 1; i >= this.head; i--) if (matches(this.owners[i]!)) return this.takeAt(i);
    } else {
      for (let i = this.head; i < this.items.length; i++) if (matches(this.owners[i]!)) return this.takeAt(i);
    }
    return undefined;
  }

  private takeAt(i: number): ServerRequest {
    const req = this.items[i]!;
    const from = this.owners[i]!;
    // Near the head (shed-oldest's places, and a connection alone's own oldest, which is the
    // head): the calls ahead of it move back one place and it leaves as `shift` takes the head,
    // O(distance) instead of a splice that moves the whole line per refused call. A loop moves
    // a place slower than splice does: only a quarter of what the splice would move.
    if ((i - this.head) * 4 <= this.items.length - i) {
      for (let j = i; j > this.head; j--) {
        this.items[j] = this.items[j - 1];
        this.owners[j] = this.owners[j - 1];
      }
      this.items[this.head] = req;
      this.owners[this.head] = from;
      return this.shift()!;
    }
    this.items.splice(i, 1);
    this.owners.splice(i, 1);
    if (--from.queued === 0) this.active--;
    return req;
  }
}
