import { ErrorCode, EMPTY_BYTES, RpcError, type FrameConn } from '@skein/core';
import type { Reply } from '../client/call.js';
import { bothObservers, guardedObserver, type ItemObserver } from '../client/item-observer.js';
import { CreditGate } from '../internals/credit-gate.js';
import type { DrainWaiters } from '../internals/drain-waiters.js';
import { Inbox } from '../internals/inbox.js';
import type { ErrorSource } from '../internals/lazy-error.js';
import type { StreamBudget } from './stream-budget.js';
import { DATA_FLAG, creditResponse, itemCost } from '../wire/extension-frames.js';
import type { ReplyLimits } from '../wire/limits.js';
import { replyOverLimits } from './reply-over-limits.js';
import { RESPONSE_HEADER_LENGTH, seqBytesOf, writeResponseHeaderHalves, type ResponseFlag } from '../wire/protocol.js';

/** Where a stream's frames go: the server connection it came in on. */
export interface StreamHost {
  readonly conn: FrameConn;
  /** What the client takes in one item (its hello's receive limits). */
  readonly peerLimits: ReplyLimits;
  /** A stream opened: false when the connection has as many open as it takes. */
  streamOpened(): boolean;
  /** A stream is being answered. */
  streamClosed(): void;
  /** An observer of a stream threw and was dropped (`observe`): its error, for the server's log. */
  observerDropped(err: unknown): void;
}

const costOf = (item: Reply): number => itemCost(item.msg, item.blob);

/** What reading a stream that reads no items fails with: made only if it is read (internals/lazy-error.ts). */
const readsNoItems = (): RpcError => new RpcError(ErrorCode.InvalidArgument, 'this stream reads no items from the client');

/**
 * The server's side of a stream a client opened (docs/protocol.md, "Streams"): the client's
 * items, read with `for await`, and `write()` for the server's own, each held to the credit the
 * client grants. The stream ends with the request's answer: `req.reply()` (its msg and blob a
 * last value, often empty) or `req.fail()`; writes after that fail.
 */
export class RequestStream implements AsyncIterable<Reply> {
  private readonly inbox: Inbox;
  private readonly gate: CreditGate;
  private readonly header = new Uint8Array(RESPONSE_HEADER_LENGTH);
  /** Told of every item each way (`observe`): without one, an item costs one look at this field. */
  private observer: ItemObserver | undefined;
  /**
   * What it holds of its connection's budget: its window (the credit it started with, if more),
   * then less as what it may still hold falls (the client's END: what waits unread; grants held
   * back), and 0 once it takes no more items.
   */
  private reserved: number;

  constructor(
    private readonly host: StreamHost,
    private readonly seqLo: number,
    private readonly seqHi: number,
    /** The client's receive window: what this side may send before it grants more. */
    sendWindow: number,
    /** Ours: what the client may send before we grant more (its connection's kind's, now). */
    receiveWindow: number,
    /** Its connection's streams that wait for the send buffer to drain. */
    private readonly drains: DrainWaiters,
    /** Its connection's budget, in which it reserved the larger of `receiveWindow` and `startCredit` as it opened if `reads` (stream-budget.ts). */
    private readonly budget: StreamBudget,
    /** Its handler reads items (Dispatch.readsItems): false, they are discarded from the start and nothing was reserved. */
    reads: boolean,
    /** The credit the wire starts it with (the window the hello's answer named), when its kind's is another now. */
    startCredit = receiveWindow,
  ) {
    this.reserved = reads ? Math.max(receiveWindow, startCredit) : 0;
    this.gate = new CreditGate(sendWindow);
    const grant = (bytes: number): void => this.host.conn.write(creditResponse(seqBytesOf(this.seqLo, this.seqHi), bytes));
    this.inbox = new Inbox(costOf, receiveWindow, grant, startCredit, reads ? () => this.shrink() : undefined);
    if (!reads) this.inbox.discard(readsNoItems);
  }

  /**
   * @internal It opens (admitted, to be run): credit up to its window, when the wire started it
   * with less (`startCredit`), at its handler's first read. Not now: its client takes a grant
   * to mean the handler runs (`StreamCall.heard`), and a handler may refuse it unrun yet.
   */
  opened(): void {
    this.inbox.widenAtFirstRead();
  }

  /** The client's items. Ends when the client ends its side; fails when the call is cancelled or the connection is lost. */
  [Symbol.asyncIterator](): AsyncIterator<Reply> {
    return this.inbox[Symbol.asyncIterator]();
  }

  /** Bytes the client sent that were not read yet. */
  get buffered(): number {
    return this.inbox.buffered;
  }

  /** Credit left for `write()`, in bytes (items cost their bytes and a header's worth). */
  get credit(): number {
    return this.gate.available;
  }

  /**
   * Sends one item. Resolves at once while the client has credit left and the connection's send
   * buffer is not full, else when it grants more or, held for a full buffer, when that drains,
   * whatever credit comes meanwhile: await each write, and a slow client holds this side back
   * instead of filling memory, whatever window it claimed.
   */
  write(msg: Uint8Array = EMPTY_BYTES, blob: Uint8Array = EMPTY_BYTES): Promise<void> {
    const limits = this.host.peerLimits;
    if (msg.length > limits.maxMessage || blob.length > limits.maxBlob || msg.length + blob.length > (limits.maxBody ?? Infinity)) {
      return Promise.reject(new RpcError(ErrorCode.FrameTooLarge, `${replyOverLimits('stream item', msg.length, blob.length, limits)}: not sent`));
    }
    const waiting = this.gate.wait(this.host.conn.congested ? this.drains : undefined);
    if (waiting) return waiting.then(() => this.send(msg, blob));
    this.send(msg, blob);
    return Promise.resolve();
  }

  /**
   * For library authors (tracing, metrics): `observer` is told of every item from here on, the
   * client's as this stream takes them and this side's as they go on the wire. A second observer
   * is told after the first. One that throws is dropped from this stream (`guardedObserver`).
   */
  observe(observer: ItemObserver): void {
    const guarded = guardedObserver(observer, (err) => this.host.observerDropped(err));
    this.observer = this.observer === undefined ? guarded : bothObservers(this.observer, guarded);
  }

  /**
   * This side reads no items (a server-streaming method's): those the client sends are dropped
   * as they arrive, not held up to the window for a reader that never comes (a connection's
   * streams would hold that much each). They still count against the client's credit, which
   * is never given back. Reading fails from now on.
   */
  ignoreItems(): void {
    this.inbox.discard(readsNoItems);
    // Nothing it is sent is kept from now on: its window is free for the connection's other streams.
    this.release();
  }

  /**
   * @internal An item from the client, where it lies in the received chunk (kept as
   * `Inbox.pushFrom` says). False when the client sent it without credit (a broken or hostile peer).
   */
  received(bytes: Uint8Array, msgAt: number, msgEnd: number, end: number): boolean {
    if (!this.inbox.pushFrom(bytes, msgAt, msgEnd, end)) return false;
    if (this.observer !== undefined) this.observer.received(end - msgAt);
    return true;
  }

  /** @internal The client ended its side: no more items come, so it holds of the budget only what waits unread. */
  endReceived(): void {
    this.inbox.end();
    this.shrink();
  }

  /** @internal The client granted credit. */
  granted(bytes: number): void {
    this.gate.grant(bytes);
  }

  /** @internal The call was answered, cancelled, or lost its connection: nothing more goes either way. */
  close(err: ErrorSource): void {
    this.gate.fail(err);
    this.inbox.fail(err);
    this.release();
  }

  /** Gives its window back to the connection's budget, once. */
  private release(): void {
    this.budget.windowFreed(this.reserved);
    this.reserved = 0;
  }

  /** What it may still hold fell (the client's end, a read after it, a grant held back): the rest of its reservation goes back. */
  private shrink(): void {
    const held = Math.max(this.inbox.bound, 0);
    if (held >= this.reserved) return;
    this.budget.windowFreed(this.reserved - held);
    this.reserved = held;
  }

  private send(msg: Uint8Array, blob: Uint8Array): void {
    // Checked again after a wait: the call may have ended meanwhile.
    if (this.gate.failed) throw new RpcError(ErrorCode.Closed, 'stream ended before the item was sent');
    this.gate.spend(itemCost(msg, blob));
    writeResponseHeaderHalves(this.header, DATA_FLAG as ResponseFlag, msg.length, this.seqLo, this.seqHi, blob.length);
    const conn = this.host.conn;
    conn.write(this.header);
    if (msg.length !== 0) conn.write(msg);
    if (blob.length !== 0) conn.write(blob);
    if (this.observer !== undefined) this.observer.sent(msg.length + blob.length);
    // With credit left, the handler's next write comes an await later: the items share a batch.
    if (this.gate.available > 0) conn.deferFlush?.();
  }
}
