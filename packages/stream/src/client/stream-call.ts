import { EMPTY_BYTES, ErrorCode, RpcError, fromDownstream, signalTimedOut, withoutStack } from '@skein/core';
import { sourceDeadline, type Reply } from './call.js';
import { NO_OPTS, type CallOptions } from './call-options.js';
import { abortedAlready, cancellable, hookAbort } from './call-abort.js';
import { CreditGate } from '../internals/credit-gate.js';
import type { DrainWaiters } from '../internals/drain-waiters.js';
import { Inbox } from '../internals/inbox.js';
import { KeptWrites } from '../internals/kept-writes.js';
import { itemCost } from '../wire/extension-frames.js';
import { bothObservers, guardedObserver, type ItemObserver } from './item-observer.js';
import type { TimedStream } from './stream-deadlines.js';
import type { Metadata } from '../wire/call-head.js';
import type { CallbackHost } from '../internals/notify-guarded.js';
import { tellReplyMetadata, type ReplyMetadataReader } from './reply-metadata-read.js';

/** What a StreamCall writes through: its ClientStream. */
export interface StreamWire {
  /** The limits this client sends within (its own `limits`, each lowered to the server's once its hello's answer names them). */
  readonly maxMessage: number;
  readonly maxBlob: number;
  /** An item's message and blob together at most: the largest frame the server's transport carries, less the item's header. Left out: no such bound. */
  readonly maxItemBytes?: number;
  /** What an item over `maxItemBytes` fails with. Left out: the limits' words. */
  overFrame?(msg: number, blob: number): RpcError;
  /** What an item whose `what` of `n` bytes is over `max` (maxMessage or maxBlob) fails with: the words name whose limit it is. Left out: this client's own. */
  overLimit?(what: 'message' | 'blob', n: number, max: number): RpcError;
  /** One item; `more`: the writer has credit left, so its next item may come an await later (FrameConn.deferFlush). */
  data(seq: number, msg: Uint8Array, blob: Uint8Array, more: boolean): void;
  end(seq: number): void;
  credit(seq: number, bytes: number): void;
  /** The stream was cancelled: opened (its seq tells the server), or not yet (seq 0: it stops waiting to open). */
  cancel(stream: StreamCall): void;
  /** The connection's drain waiters while its send buffer is full (a write waits for it to drain), else undefined. */
  congested(): DrainWaiters | undefined;
  /** An observer of the stream threw and was dropped (`observe`): its error, for the connection's log. */
  observerDropped(err: unknown): void;
}

const costOf = (item: Reply): number => itemCost(item.msg, item.blob);

const nothing = (): void => {};

/**
 * How a pool makes the streams it opens before it picks a connection: with the window every
 * connection reads with, and a wire that only knows the limits (a write before the open waits
 * for credit) until a connection takes the stream.
 */
export function unopenedStreams(receiveWindow: number, limits: { maxMessage: number; maxBlob: number }): (opts: CallOptions) => StreamCall {
  const wire: StreamWire = { maxMessage: limits.maxMessage, maxBlob: limits.maxBlob, data: nothing, end: nothing, credit: nothing, cancel: nothing, congested: () => undefined, observerDropped: nothing };
  return (opts) => new StreamCall(wire, receiveWindow, opts);
}

/**
 * A stream that failed before it opened, with `err`: what a carrier of its own (a router that
 * picks a server per call, as @skein/api's cluster does) hands back when it has nowhere to open
 * a stream, as the built-in carriers fail one they refuse (reading and `result` fail with it).
 */
export function refusedStream(err: Error): StreamCall {
  // No limits of its own: a write fails with its error, not with a size it never had.
  const stream = unopenedStreams(0, { maxMessage: Infinity, maxBlob: Infinity })(NO_OPTS);
  stream.finish(err, null);
  return stream;
}

/**
 * A stream a client opened (`ClientStream.openStream`): server streaming, client streaming or
 * both ways at once. Read the server's items with `for await`; send yours with `await
 * write()`, then `end()`. Each direction is held to the credit its receiver grants, so neither
 * side's memory grows with a slow peer. `result` settles when the server answers the call: its
 * reply (a last value, often empty), or its error, which reading also ends with.
 * Breaking out of a `for await` cancels the stream, as `cancel()` and the call's AbortSignal do;
 * on one already over it drops the items not read yet, so that reading again gets none.
 */
export class StreamCall implements AsyncIterable<Reply>, TimedStream, ReplyMetadataReader {
  /** The stream's seq, once it is open (0 before). */
  seq = 0;
  /** @internal Its connection's list of streams with a deadline (StreamDeadlines), and its place and due time there. */
  deadlineList: object | undefined = undefined;
  /** @internal */
  deadlinePrev: TimedStream | undefined = undefined;
  /** @internal */
  deadlineNext: TimedStream | undefined = undefined;
  /** @internal */
  deadlineAt = 0;
  /** @internal */
  deadlineMs = 0;
  /** @internal Its caller reads the metadata sent with its end (`CallOptions.onReplyMetadata`): set as it opens (ConnStreams.open). */
  onReplyMetadata: ((metadata: Metadata) => void) | undefined = undefined;
  /** @internal The reply head that came just before its end (wire/reply-metadata.ts), kept for it: read only for a stream with `onReplyMetadata`. */
  replyMetadata: Metadata | undefined = undefined;
  /** @internal Its action as its caller named it, set with `onReplyMetadata`: what that callback is logged with, should it throw. */
  action: string | number = '';
  /**
   * The connection that read its end while a pool watched it (`onAttempt`): its metadata waits
   * in `replyMetadata` until the stream really ends (`conclude`), so that an end the pool turns
   * into another attempt (a refusal unrun) is never told (`forgetReplyMetadata`).
   */
  private endHeardBy: CallbackHost | undefined = undefined;
  readonly result: Promise<Reply>;
  private readonly inbox: Inbox;
  /** Credit towards the server: 0 until the stream is open, then the server's window. */
  private readonly gate = new CreditGate(0);
  private settle!: { resolve(r: Reply): void; reject(e: Error): void };
  private done = false;
  private ended = false;
  private unlink: (() => void) | undefined;
  private itemSent = false;
  private serverSpoke = false;
  /**
   * Kept bytes up to which a pool that may open the stream again keeps what it writes while its
   * server says nothing (`keepWrites`); -1 when it keeps nothing (not a pool's, the server spoke,
   * past the cap, ended). The kept items, made at the first write.
   */
  private keepCap = -1;
  private kept: KeptWrites | undefined;
  /** Credit for writing the kept items again on a new attempt, while some are left (the caller's writes wait); else undefined. */
  private replayCredit: number | undefined;
  /**
   * @internal Set by a pool: told once whether the attempt opened the stream (null), or
   * else the error that would end it, in place of ending it, so that a stream that never ran
   * can go to another server; the pool ends it itself (`finish`) when it does not move it.
   */
  onAttempt: ((err: Error | null) => void) | undefined;
  /**
   * @internal Set by a FailoverPool that scores its servers, once the stream opened: told once
   * how it went at its server: null at the first item or credit from it (its handler runs),
   * else at its end, with its error (null for a reply). Told before `onAttempt`, and on cancel.
   */
  onOutcome: ((err: Error | null) => void) | undefined;
  /** Told of every item each way (`observe`): without one, an item costs one look at this field. */
  private observer: ItemObserver | undefined;
  /** Takes the stream out of a pool's queue of calls waiting for a connection, should it end there (see `waitsIn`). */
  private leaveQueue: (() => void) | undefined;

  constructor(
    /** Where items go: its ClientStream's, or (in a pool, until a connection takes it) one that only knows the limits. */
    private wire: StreamWire,
    receiveWindow: number,
    /** What cancels it: its signal, its abort source. */
    opts: CallOptions = NO_OPTS,
  ) {
    this.inbox = new Inbox(costOf, receiveWindow, (bytes) => this.wire.credit(this.seq, bytes));
    this.result = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // Read or not, a failed stream must not become an unhandled rejection.
    this.result.catch(() => {});
    // Hooked only while nothing aborted yet (as `hookAbort` asks): a source that aborted already
    // tells at once, which would end the stream here before `unlink` is set, leaving the hook a
    // signal beside it then gets. The carrier refuses such a stream itself (`abortedAlready`).
    if (cancellable(opts) && abortedAlready(opts) === undefined) this.unlink = hookAbort(opts, (why) => this.stop(undefined, true, why));
  }

  /** Bytes the server sent that were not read yet: at most the receive window and one item. */
  get buffered(): number {
    return this.inbox.buffered;
  }

  /** @internal An item of the client's went out (the server that refused it read none of it). */
  get wrote(): boolean {
    return this.itemSent;
  }

  /**
   * @internal An item went out that is not kept to write again (no pool keeps them, or it wrote
   * past its cap before the server spoke): refused unrun, it can no longer move.
   */
  get unkept(): boolean {
    return this.itemSent && this.keepCap < 0;
  }

  /** @internal Credit the items kept to write again cost (0 with none). */
  get keptBytes(): number {
    return this.kept?.bytes ?? 0;
  }

  /** @internal The server sent an item or granted credit: its handler ran. */
  get heard(): boolean {
    return this.serverSpoke;
  }

  /** True once the server answered, or the stream was cancelled or lost. */
  get isDone(): boolean {
    return this.done;
  }

  [Symbol.asyncIterator](): AsyncIterator<Reply> {
    return {
      next: () => this.inbox.next(),
      return: () => {
        this.cancel();
        // The reader is gone for good: a stream already over (answered, failed) is not changed
        // by the cancel, but what it left unread goes all the same, and a later read gets its
        // end (or its error) at once, as a one-shot source's iterator gives nothing after return().
        this.inbox.drop();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  /**
   * Sends one item. Resolves at once while the server has credit left for it and the
   * connection's send buffer is not full, else when it grants more or, held for a full buffer,
   * when that drains, whatever credit comes meanwhile (or rejects once the stream is over):
   * await each write.
   */
  write(msg: Uint8Array = EMPTY_BYTES, blob: Uint8Array = EMPTY_BYTES): Promise<void> {
    if (this.ended) return Promise.reject(itemNotSent('write after end() on a stream'));
    if (!(msg instanceof Uint8Array) || !(blob instanceof Uint8Array)) return Promise.reject(new RpcError(ErrorCode.InvalidArgument, 'msg and blob must be Uint8Arrays'));
    if (msg.length > this.wire.maxMessage || blob.length > this.wire.maxBlob) {
      const [what, n, max] = msg.length > this.wire.maxMessage ? (['message', msg.length, this.wire.maxMessage] as const) : (['blob', blob.length, this.wire.maxBlob] as const);
      return Promise.reject(this.wire.overLimit?.(what, n, max) ?? itemOverOwnLimit(what, n, max));
    }
    // Within the limits, yet over the frame the server's transport carries: sent, it would cost the connection.
    const maxItem = this.wire.maxItemBytes ?? Infinity;
    if (msg.length + blob.length > maxItem) {
      return Promise.reject(this.wire.overFrame?.(msg.length, blob.length) ?? new RpcError(ErrorCode.FrameTooLarge, `stream item of ${msg.length} + ${blob.length} bytes exceeds ${maxItem} together: not sent`));
    }
    const waiting = this.gate.wait(this.wire.congested());
    if (waiting) return waiting.then(() => this.send(msg, blob));
    this.send(msg, blob);
    return Promise.resolve();
  }

  /**
   * For library authors (tracing, metrics): `observer` is told of every item from here on, the
   * server's as this stream takes them and this side's as they go on the wire. A second observer
   * is told after the first. One that throws is dropped from this stream (`guardedObserver`).
   */
  observe(observer: ItemObserver): void {
    // Through the wire the stream has when it throws (its connection's logger).
    const guarded = guardedObserver(observer, (err) => this.wire.observerDropped(err));
    this.observer = this.observer === undefined ? guarded : bothObservers(this.observer, guarded);
  }

  /** No more items from this side; the server's side goes on until it answers. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    // While kept items are written again, the end follows them (`replay`).
    if (this.seq !== 0 && !this.done && this.replayCredit === undefined) this.wire.end(this.seq);
  }

  /**
   * Stops the stream: the server's signal fires and its answer is dropped. Reading and `result`
   * fail with `reason`, by default Cancelled (a typed client passes the error its source threw),
   * at once: items that arrived and were not read are dropped, as the caller wants no more.
   * (A stream that fails otherwise, its server's error or a lost connection, is read to what
   * arrived first.)
   */
  cancel(reason?: Error): void {
    this.stop(reason, true);
  }

  /**
   * @internal Its deadline passed on this side (StreamDeadlines): stopped as `cancel` stops it,
   * but read to what arrived first, as a stream its server failed at that deadline is: its caller
   * did not give up on the items.
   */
  expire(err: RpcError): void {
    this.stop(err, false);
  }

  /**
   * `told`: what its signal or abort source failed it with (`hookAbort`), whose cause (the
   * signal's reason) the stream's Cancelled takes; stackless, as that one is (one signal may end
   * many streams in one turn, and a stack named only its listener). A Timeout told (its abort
   * source's deadline passed) ends the stream as it is; its signal's timeout (`cancelled`: a
   * TimeoutError reason) is said of the stream, as its Cancelled is.
   */
  private stop(reason: Error | undefined, dropUnread: boolean, told?: RpcError): void {
    if (this.done) return;
    this.onAttempt = undefined;
    // The canceller's own reason (a typed client's source threw it) stays theirs: not marked
    // downstream in place, or a handler's own error (a constant) would be withheld from then on.
    const err = reason ?? (told === undefined ? new RpcError(ErrorCode.Cancelled, 'stream cancelled') : toldToStream(told));
    if (reason === undefined) this.finish(err, null);
    else this.conclude(reason, null);
    if (dropUnread) this.inbox.discard(err);
    // Told after it is done, opened (seq: the server stops it) or not (0: it stops waiting to open).
    this.wire.cancel(this);
  }

  /** @internal A connection takes the stream (a pool's, made before one was picked): its items go there. */
  carriedBy(wire: StreamWire): void {
    // Still open on another connection, its seq and credit there would go with it: a pool's bug.
    if (this.seq !== 0) throw new Error(`stream ${this.seq} taken by another connection before unopened()`);
    this.leaveQueue = undefined;
    this.wire = wire;
  }

  /**
   * @internal The stream waits in a pool for a connection: if it ends meanwhile (cancelled, by
   * `break` too), `leave` takes it out at once, so that it holds no place in the pool's bounded
   * queue and no listener on its AbortSignal until a connection comes or the budget runs out.
   */
  waitsIn(leave: () => void): void {
    this.leaveQueue = leave;
  }

  /**
   * @internal A pool that may open the stream again (a server's refusal unrun) keeps what it
   * writes until the server speaks, so as to write it again there (`KeptWrites`). At most its
   * receive window (`streamWindowBytes`) and one item: what it writes before hearing anything is
   * held to the server's window anyway, and a server that claims a larger one makes it stop
   * keeping, not hold what was claimed.
   */
  keepWrites(): void {
    this.keepCap = this.inbox.window;
  }

  /** @internal The OPEN and its request are on the wire: writes may go within the server's window. */
  opened(seq: number, sendWindow: number): void {
    this.seq = seq;
    // A write held for the drain of a connection it was refused on waits for this one's (or its credit).
    this.gate.carriedTo(this.wire.congested());
    this.attempted(null);
    const kept = this.kept;
    if (kept !== undefined && kept.size !== 0) {
      // Opened again: what the refusing server dropped goes first, within this one's window.
      kept.rewind();
      this.replayCredit = sendWindow;
      return this.replay(kept);
    }
    if (this.ended) this.wire.end(seq);
    this.gate.grant(sendWindow);
  }

  /**
   * @internal The server refused the open stream unrun, before it said anything of it: back
   * to unopened, its writes waiting for credit, so that a pool can open it on another connection
   * (and write its kept items again there).
   */
  unopened(): void {
    this.seq = 0;
    this.replayCredit = undefined;
    this.gate.spend(this.gate.available);
  }

  /**
   * @internal One item from the server, where it lies in the received chunk (kept as
   * `Inbox.pushFrom` says: small unread ones packed). False when it came without credit (a broken peer).
   */
  received(bytes: Uint8Array, msgAt: number, msgEnd: number, end: number): boolean {
    if (!this.serverSpoke) this.spoke();
    if (!this.inbox.pushFrom(bytes, msgAt, msgEnd, end)) return false;
    if (this.observer !== undefined) this.observer.received(end - msgAt);
    return true;
  }

  /** @internal The server granted credit. */
  granted(bytes: number): void {
    if (!this.serverSpoke) this.spoke();
    if (this.replayCredit === undefined) return this.gate.grant(bytes);
    this.replayCredit += bytes;
    this.replay(this.kept!);
  }

  /**
   * @internal The server's end came (ConnStreams.frame): its caller's `onReplyMetadata` is told
   * the metadata that came with it (empty when none did), before the end reaches its reader.
   */
  tellReplyMetadata(host: CallbackHost): void {
    // A pool's: its end may be a refusal it opens again elsewhere, whose metadata is not its
    // caller's (as for a pool's call, FinalReplyMetadata). Told as it ends, if it does.
    if (this.onAttempt !== undefined) this.endHeardBy = host;
    else tellReplyMetadata(this, host, this.action, 'stream');
  }

  /**
   * @internal A pool makes another attempt (ConnPool's reopen, FailoverPool's): what the last
   * one's server sent back with its end is not its caller's, and is dropped untold.
   */
  forgetReplyMetadata(): void {
    this.endHeardBy = undefined;
    this.replyMetadata = undefined;
  }

  /**
   * @internal A pool that decides a turn later whether the refusal it just read ends the stream
   * (ConnPool's reopen: another stream's end in the same read may make room): that attempt's
   * metadata is set aside untold, so a caller that ends the stream meanwhile (an abort) is never
   * told it, and the function returned puts it back should the refusal end the stream after all.
   */
  setReplyMetadataAside(): () => void {
    const heardBy = this.endHeardBy;
    const metadata = this.replyMetadata;
    this.forgetReplyMetadata();
    return () => {
      this.endHeardBy = heardBy;
      this.replyMetadata = metadata;
    };
  }

  /** @internal The server's answer, or the stream's failure (cancel, connection lost, not opened). */
  finish(err: Error | null, reply: Reply | null): void {
    if (this.done) return;
    // As a call's (Call.finish): the stream's failure is a downstream's to whoever passes it on.
    if (err !== null) fromDownstream(err);
    this.conclude(err, reply);
  }

  /** Ends it with `err` as it is, or the reply. */
  private conclude(err: Error | null, reply: Reply | null): void {
    this.outcome(err);
    // A FailoverPool may take it elsewhere (or fails it itself).
    if (err && this.onAttempt) return this.attempted(err);
    this.done = true;
    const heardBy = this.endHeardBy;
    if (heardBy !== undefined) {
      // The end a pool did not open again: its caller's, told before it reaches the reader.
      this.endHeardBy = undefined;
      tellReplyMetadata(this, heardBy, this.action, 'stream');
    }
    this.dropKept();
    this.replayCredit = undefined;
    this.unlink?.();
    const leave = this.leaveQueue;
    this.leaveQueue = undefined;
    leave?.();
    this.gate.fail(err ?? streamAnswered);
    if (err) {
      this.inbox.fail(err);
      this.settle.reject(err);
    } else {
      this.inbox.end();
      this.settle.resolve(reply!);
    }
  }

  /** The server's first item or credit: its handler runs. */
  private spoke(): void {
    this.serverSpoke = true;
    // Its handler runs: no other server may have the items now, and their memory goes (those
    // still to be written again here go once written).
    if (this.replayCredit === undefined) this.dropKept();
    this.outcome(null);
  }

  private dropKept(): void {
    this.kept = undefined;
    this.keepCap = -1;
  }

  /**
   * Writes kept items again, in order, while the credit for them lasts (an item may overdraw
   * it, as a write may); the rest wait for the server's credit. The gate stays shut meanwhile,
   * so the caller's writes, and its end, come after them; then they get what credit is left.
   */
  private replay(kept: KeptWrites): void {
    while (kept.pending && this.replayCredit! > 0) {
      const msg = kept.take();
      const blob = kept.take();
      this.replayCredit! -= itemCost(msg, blob);
      this.wire.data(this.seq, msg, blob, false);
    }
    if (kept.pending) return;
    const credit = this.replayCredit!;
    this.replayCredit = undefined;
    if (this.serverSpoke) this.dropKept();
    if (this.ended) this.wire.end(this.seq);
    this.gate.grant(credit);
  }

  /** Keeps an item it wrote, up to its cap (an item may overdraw it); past it, keeps none. */
  private keep(msg: Uint8Array, blob: Uint8Array, cost: number): void {
    const kept = (this.kept ??= new KeptWrites());
    if (kept.bytes < this.keepCap) return kept.add(msg, blob, cost);
    this.dropKept();
  }

  private outcome(err: Error | null): void {
    const told = this.onOutcome;
    if (told === undefined) return;
    this.onOutcome = undefined;
    told(err);
  }

  private attempted(err: Error | null): void {
    const told = this.onAttempt;
    this.onAttempt = undefined;
    told?.(err);
  }

  private send(msg: Uint8Array, blob: Uint8Array): void {
    if (this.done || this.ended) throw itemNotSent('the stream ended before the item was sent');
    const cost = itemCost(msg, blob);
    this.gate.spend(cost);
    this.itemSent = true;
    if (this.keepCap >= 0) this.keep(msg, blob, cost);
    this.wire.data(this.seq, msg, blob, this.gate.available > 0);
    if (this.observer !== undefined) this.observer.sent(msg.length + blob.length);
  }
}

/**
 * What ends a stream its signal or abort source stopped (`told`, as `hookAbort` said it of a
 * call), in a stream's words: its source's deadline as it is; its signal's timeout and any
 * other abort (Cancelled) with the signal's reason as cause. Stackless, made in a listener.
 */
function toldToStream(told: RpcError): RpcError {
  if (sourceDeadline(told)) return told;
  if (told.code === ErrorCode.Timeout) return withoutStack(() => signalTimedOut('stream', told.cause));
  return withoutStack(() => new RpcError(ErrorCode.Cancelled, 'stream cancelled', { cause: told.cause }));
}

/**
 * A write that cannot go: the stream was answered or ended. Closed, but never `retry: 'safe'`
 * (Closed's default): that says the call never ran, and this one may well have (answered, it
 * did), so a caller that reads `retry` or `neverExecuted` on whatever a stream threw would open
 * it again elsewhere and run it twice. The item went nowhere; the stream's outcome is its result.
 */
const itemNotSent = (why: string): RpcError => new RpcError(ErrorCode.Closed, why, { retry: 'never' });

/** What a write after the answer fails with: made only if one is attempted (internals/lazy-error.ts). */
const streamAnswered = (): RpcError => itemNotSent('the server answered the stream');

/** An item part over this client's own `limits`: the words name the option, as a call's do (ClientStream's `tooLarge`). */
export function itemOverOwnLimit(what: 'message' | 'blob', n: number, max: number): RpcError {
  return new RpcError(ErrorCode.FrameTooLarge, `stream item's ${what} of ${n} bytes exceeds this client's limit of ${max} (limits.${what === 'message' ? 'maxMessage' : 'maxBlob'}): not sent`);
}
