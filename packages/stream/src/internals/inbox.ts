import { EMPTY_BYTES, invalidArgument } from '@skein/core';
import type { Reply } from '../client/call.js';
import { keptBytes } from './kept-bytes.js';
import { errorOf, type ErrorSource } from './lazy-error.js';

/**
 * Items under this many bytes wait packed (`pushBytes`): their bytes in one buffer, their place
 * in `items` a small integer (`msg length * PACK_BELOW + blob length`). As an object and a buffer
 * each, a window filled with 1-byte items held 8 times what it credits; packed, less than it.
 */
const PACK_BELOW = 16 * 1024;
/** A packing buffer up to this size is kept once read empty, for the next items; a larger one goes. */
const KEEP_PACKED = 64 * 1024;

/**
 * The receiving side of a stream: items in arrival order, read with `for await`. It holds what
 * arrived and was not read yet; credit goes back to the sender as items are read, not as they
 * arrive, so a slow reader holds the sender back instead of filling this buffer.
 */
export class Inbox implements AsyncIterable<Reply> {
  /** Items not read yet: a Reply, or a packed one's lengths (see PACK_BELOW). */
  private readonly items: (Reply | number)[] = [];
  private head = 0;
  /** The packed items' bytes, unread from `packedAt` to `packedEnd`. */
  private packed: Uint8Array = EMPTY_BYTES;
  private packedAt = 0;
  private packedEnd = 0;
  /** Bytes of credit read since the last grant. */
  private unreported = 0;
  /** Bytes received and not read yet (credit cost, header allowance included). */
  buffered = 0;
  private ended = false;
  /** Why no more items come: made when a read first needs it. */
  private failure: ErrorSource | undefined;
  private reader: { resolve(r: IteratorResult<Reply>): void; reject(err: Error): void } | undefined;
  /** Credit the sender still has, as this side counts it: an item that arrives at zero or below broke the rule. */
  private senderCredit: number;
  /** `widen` is due at the first read (`widenAtFirstRead`). */
  private widenDue = false;

  constructor(
    private readonly cost: (item: Reply) => number,
    /** The receive window: read bytes go back once a quarter of it is read. */
    readonly window: number,
    private readonly grant: (bytes: number) => void,
    /**
     * The credit the sender starts with: the window, unless the wire fixed another (a server's
     * stream on a connection that changed kind after its hello: `widen`, and grants held back).
     */
    credit = window,
    /** Told when what it may still hold (`bound`) fell other than by an item's arrival: a grant held back, the sender's end, a read after it. */
    private readonly shrunk?: () => void,
  ) {
    this.senderCredit = credit;
  }

  /**
   * The bytes this inbox may yet hold unread: what waits, what was read and not granted back yet,
   * and the sender's credit; once no more items come, what waits alone. An item may overdraw it
   * (a sender with any credit left may send).
   */
  get bound(): number {
    return this.closed ? this.buffered + this.packedSlack : this.senderCredit + this.buffered + this.unreported;
  }

  /**
   * @internal Bytes of the packing buffer held for unread items: all of it while any packed item
   * is unread (reading one frees nothing of it), else none held for them.
   */
  get packedBytes(): number {
    return this.packedEnd > this.packedAt ? this.packed.length : 0;
  }

  /** The packing buffer's bytes beyond the unread ones it holds (those count in `buffered`): held all the same. */
  private get packedSlack(): number {
    const live = this.packedEnd - this.packedAt;
    return live > 0 ? this.packed.length - live : 0;
  }

  /**
   * `widen` at the first read, not now: a grant tells the sender that its stream's handler runs
   * (the client's `heard`), which it does only once it reads. Meanwhile the sender sends within
   * the credit it started with.
   */
  widenAtFirstRead(): void {
    this.widenDue = true;
  }

  /** Credit up to the window, when the sender started with less (credit only adds): granted now. */
  widen(): void {
    const more = this.window - this.bound;
    if (more <= 0 || this.closed) return;
    this.senderCredit += more;
    this.grant(more);
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

  /**
   * An item as it arrived: its msg at `bytes[msgAt, msgEnd)`, its blob at `[msgEnd, end)` of a
   * received chunk. A small one that waits is copied into the packed bytes, so that neither the
   * chunk nor an object per item is held: memory stays within the window. One read at once, or a
   * large one, is kept as `keptBytes` says (no view made for it first: the common case, a reader
   * waiting, costs what it did before packing).
   */
  pushFrom(bytes: Uint8Array, msgAt: number, msgEnd: number, end: number): boolean {
    // Dropped as it arrives (no reader comes, or no more items were due): counted against the
    // sender's credit, never copied out of the chunk first.
    if (this.closed) return this.dropped(bytes.subarray(msgAt, msgEnd), bytes.subarray(msgEnd, end));
    if (end - msgAt >= PACK_BELOW || this.reader !== undefined) {
      return this.push({ msg: keptBytes(bytes, msgAt, msgEnd), blob: keptBytes(bytes, msgEnd, end) });
    }
    if (this.senderCredit <= 0) return false;
    const msg = bytes.subarray(msgAt, msgEnd);
    const blob = bytes.subarray(msgEnd, end);
    const cost = this.cost({ msg, blob });
    this.senderCredit -= cost;
    this.buffered += cost;
    this.pack(msg);
    this.pack(blob);
    this.items.push(msg.length * PACK_BELOW + blob.length);
    return true;
  }

  /** An item not kept, its parts views of the chunk (no copy): its credit is spent; false past the sender's credit. */
  private dropped(msg: Uint8Array, blob: Uint8Array): boolean {
    if (this.senderCredit <= 0) return false;
    this.senderCredit -= this.cost({ msg, blob });
    return true;
  }

  /** The sender sent its last item: reading ends after the buffered ones. */
  end(): void {
    if (this.closed) return;
    this.ended = true;
    this.fitAtEnd();
    this.wake();
  }

  /** The stream failed: reading fails after the buffered items (those arrived; they are read). */
  fail(err: ErrorSource): void {
    if (this.closed) return;
    this.failure = err;
    this.fitAtEnd();
    this.wake();
  }

  /** Drops what was not read (the reader is gone): reading fails with `err`. */
  discard(err: ErrorSource): void {
    this.drop();
    this.fail(err);
  }

  /** Drops what was not read, its end or failure kept: reading gives that at once. */
  drop(): void {
    this.items.length = this.head = 0;
    this.packed = EMPTY_BYTES;
    this.packedAt = this.packedEnd = 0;
    this.buffered = 0;
  }

  next(): Promise<IteratorResult<Reply>> {
    if (this.widenDue) (this.widenDue = false), this.widen();
    if (this.head < this.items.length) {
      const entry = this.items[this.head]!;
      this.items[this.head++] = undefined as unknown as Reply;
      const item = typeof entry === 'number' ? this.unpack(entry) : entry;
      if (this.head > 1024 && this.head * 2 > this.items.length) this.items.splice(0, this.head), (this.head = 0);
      this.buffered -= this.cost(item);
      this.consumed(item);
      return Promise.resolve({ value: item, done: false });
    }
    if (this.failure) return Promise.reject(this.error());
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    if (this.reader) return Promise.reject(invalidArgument('one read at a time on a stream: await the previous next() first'));
    return new Promise((resolve, reject) => (this.reader = { resolve, reject }));
  }

  [Symbol.asyncIterator](): AsyncIterator<Reply> {
    return { next: () => this.next() };
  }

  /** Appends `bytes` to the packed bytes, in a larger buffer when they do not fit (only the unread part moves). */
  private pack(bytes: Uint8Array): void {
    const size = bytes.length;
    if (size === 0) return;
    if (this.packedEnd + size > this.packed.length) {
      const live = this.packedEnd - this.packedAt;
      // Room enough once the read part is dropped: moved down in place; else into one twice the
      // need, but no larger than the window and an item, which is all that can be unread.
      if (live + size <= this.packed.length / 2) this.packed.copyWithin(0, this.packedAt, this.packedEnd);
      else {
        const grown = new Uint8Array(Math.max(live + size, Math.min(Math.max(4096, 2 * (live + size)), this.window + PACK_BELOW)));
        grown.set(this.packed.subarray(this.packedAt, this.packedEnd));
        this.packed = grown;
      }
      this.packedAt = 0;
      this.packedEnd = live;
    }
    this.packed.set(bytes, this.packedEnd);
    this.packedEnd += size;
  }

  /** The packed item of lengths `entry`, next in the packed bytes: copies of its own, which a reader may keep. */
  private unpack(entry: number): Reply {
    const msgLength = Math.floor(entry / PACK_BELOW);
    const at = this.packedAt;
    const msgEnd = at + msgLength;
    const end = msgEnd + (entry % PACK_BELOW);
    const item = { msg: msgEnd === at ? EMPTY_BYTES : this.packed.slice(at, msgEnd), blob: end === msgEnd ? EMPTY_BYTES : this.packed.slice(msgEnd, end) };
    this.packedAt = end;
    if (this.packedAt === this.packedEnd) {
      this.packedAt = this.packedEnd = 0;
      if (this.packed.length > KEEP_PACKED) this.packed = EMPTY_BYTES;
    }
    if (this.closed) this.fitAtEnd();
    return item;
  }

  /**
   * As no more items come: the packed bytes fitted by the rule reads follow (`fitPacked`), on a
   * server's stream, whose reservation (`bound`) counts the buffer whole, slack and all. A client's
   * inbox (no `shrunk`: no budget holds it) keeps its buffer until read: a copy there frees nothing
   * any peer counts.
   */
  private fitAtEnd(): void {
    if (this.shrunk !== undefined) this.fitPacked();
  }

  /**
   * Once no more items come, the unread packed bytes moved into a buffer of their size (none kept
   * when none are unread) when they fill less than half of it: at the end, then as reads leave
   * them so. So the stream's reservation (`bound`), which counts the buffer whole, is at most twice
   * what waits unread, and reading frees memory as it frees the reservation, without a copy of a
   * whole window to free a little slack. Each move copies less than half of the buffer and halves
   * it at least: all of them copy less than the first buffer.
   */
  private fitPacked(): void {
    const live = this.packedEnd - this.packedAt;
    if (live * 2 >= this.packed.length) return;
    this.packed = live === 0 ? EMPTY_BYTES : this.packed.slice(this.packedAt, this.packedEnd);
    this.packedAt = 0;
    this.packedEnd = live;
  }

  private consumed(item: Reply): void {
    // Nothing more comes: what it holds fell by this item.
    if (this.closed) return this.shrunk?.();
    this.unreported += this.cost(item);
    if (this.unreported * 4 < this.window) return;
    const n = this.unreported;
    this.unreported = 0;
    // All of it, as a rule (credit, unread and unreported add up to the window); less while the
    // sender started with more than the window (`credit`): held back until they do.
    const given = Math.min(n, this.window - this.senderCredit - this.buffered);
    if (given > 0) {
      this.senderCredit += given;
      this.grant(given);
    }
    if (given < n) this.shrunk?.();
  }

  private error(): Error {
    return (this.failure = errorOf(this.failure!));
  }

  private wake(): void {
    if (!this.reader || this.head < this.items.length) return;
    const r = this.reader;
    this.reader = undefined;
    if (this.failure) r.reject(this.error());
    else r.resolve({ value: undefined, done: true });
  }
}
