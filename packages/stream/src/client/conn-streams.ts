import { EMPTY_BYTES, ErrorCode, FrameError, RpcError, invalidArgument, withoutStack, type FrameConn, type Logger } from '@skein/core';
import { abortedAlready } from './call-abort.js';
import type { CallOptions } from './call-options.js';
import type { ClientHello } from './hello.js';
import { OBSERVER_DROPPED } from './item-observer.js';
import { overFrameLimit } from './frame-limit.js';
import { StreamCall, itemOverOwnLimit, type StreamWire } from './stream-call.js';
import { StreamDeadlines } from './stream-deadlines.js';
import { callTimeout, metadataRefusal } from '../internals/checks.js';
import { DrainWaiters } from '../internals/drain-waiters.js';
import { markRefusedUnsent } from '../internals/unsent-refusal-mark.js';
import type { SeqTable } from '../internals/seq-table.js';
import type { TickClock } from '../internals/tick-clock.js';
import { CallHeadError, encodeCallHead } from '../wire/call-head.js';
import { CANCEL_ACTION, CREDIT_FLAG, DATA_ACTION, DATA_FLAG, END_ACTION, creditRequest } from '../wire/extension-frames.js';
import { REQUEST_HEADER_LENGTH, RES_FLAG_AT, RES_MSG_LEN_AT, RESPONSE_HEADER_LENGTH, ResponseFlag, u32, writeRequestHeader } from '../wire/protocol.js';
import { REPLY_METADATA_FLAG } from '../wire/reply-metadata.js';
import { readReplyMetadata } from './reply-metadata-read.js';

/** What a connection's streams need of their ClientStream. */
export interface StreamsHost {
  readonly remote: string;
  readonly logger: Logger;
  readonly hello: ClientHello;
  /** The stream's ticked time: stream deadlines are in it, as calls' are. */
  readonly pace: TickClock;
  /** Checks a stream's action and payload as a call's are (throws as for a call); its action on the wire. */
  checkCall(action: string | number, msg: Uint8Array, blob: Uint8Array): number | Uint8Array;
  /** Why nothing may open now (the stream is not open, or its credentials' grant ran out), else undefined. */
  refusal(): RpcError | undefined;
  /** Asks whether the peer will answer the hello at all (Keepalive.askVerdict). */
  askVerdict(): void;
  nextSeq(): number;
  /** A stream's opening: its head (OPEN_ACTION), then its request. */
  writeOpen(seq: number, action: number | Uint8Array, msg: Uint8Array, blob: Uint8Array, head: Uint8Array | undefined, remainingMs: number | undefined): void;
  /** A bodiless extension frame (cancel, end), only to a peer that agreed them. */
  writeBare(action: number, seq: number): void;
  /** Reads a stream's answer into it, as a call's. */
  settle(stream: StreamCall, bytes: Uint8Array, start: number, end: number): void;
  /**
   * A stream left (answered, cancelled, past its deadline, or ended before it opened): a closing
   * connection may end now, and a pool's stream waiting for a connection under its server's cap
   * on open streams may open here (`ClientStream.onRoom`).
   */
  left(): void;
  /** The peer broke the protocol: the connection ends with `err`. */
  lost(err: Error): void;
}

/**
 * One ClientStream's streams (docs/protocol.md, "Streams"): their opening (at once, or once the
 * hello is answered), their items and credit both ways (it is their StreamWire), their
 * deadlines and their answers. The tables are the ClientStream's (it reads their sizes: a
 * connection that carries no stream looks no further); only this changes them. Out of the
 * ClientStream because no call's path comes here.
 */
export class ConnStreams implements StreamWire {
  /** The limits this client sends within: its own `limits`, each lowered to the server's once its hello's answer names them (`narrow`). */
  maxMessage: number;
  maxBlob: number;
  /** An item's message and blob together at most: the largest frame the server's transport carries (kind 26's max_frame), less an item's header; Infinity until then, and where it names none. */
  maxItemBytes = Infinity;
  /** An item over these but within the client's own limits is over the server's: said so. */
  private readonly ownMaxMessage: number;
  private readonly ownMaxBlob: number;
  /** Streams whose writes wait for the send buffer to drain. */
  private readonly drains = new DrainWaiters();
  /** Streams opened with a `timeoutMs`: ended here at it, whatever the server does. */
  private readonly deadlines: StreamDeadlines;
  /** An item's request header, built in one reused buffer: the transport copies parts this small at once. */
  private readonly header = new Uint8Array(REQUEST_HEADER_LENGTH);
  /** The connection is closed: nothing more is written. */
  private closed = false;

  constructor(
    private readonly host: StreamsHost,
    private readonly conn: FrameConn,
    limits: { readonly maxMessage: number; readonly maxBlob: number },
    /** This client's receive window per stream. */
    private readonly windowBytes: number,
    /** The ClientStream's open streams, by seq. */
    private readonly streams: SeqTable<StreamCall>,
    /** The ClientStream's streams waiting for the hello's answer, each with its opening. */
    private readonly opening: Map<StreamCall, () => void>,
  ) {
    this.maxMessage = this.ownMaxMessage = limits.maxMessage;
    this.maxBlob = this.ownMaxBlob = limits.maxBlob;
    this.deadlines = new StreamDeadlines(host.remote);
  }

  /** The server's request limits, from its hello's answer (ClientStream.takeServerLimits): items are held within them. */
  narrow(limits: { readonly maxMessage: number; readonly maxBlob: number }, maxFrame: number): void {
    this.maxMessage = limits.maxMessage;
    this.maxBlob = limits.maxBlob;
    this.maxItemBytes = maxFrame - REQUEST_HEADER_LENGTH;
  }

  /** What an item whose message and blob are over `maxItemBytes` fails with (StreamWire's). */
  overFrame(msg: number, blob: number): RpcError {
    return overFrameLimit(this.host.remote, 'stream item frame', REQUEST_HEADER_LENGTH + msg + blob, this.maxItemBytes + REQUEST_HEADER_LENGTH);
  }

  /** What an item whose `what` of `n` bytes is over `max` fails with (StreamWire's): this client's own limit, or the server's, when within the client's own. */
  overLimit(what: 'message' | 'blob', n: number, max: number): RpcError {
    if (max >= (what === 'message' ? this.ownMaxMessage : this.ownMaxBlob)) return itemOverOwnLimit(what, n, max);
    return new RpcError(ErrorCode.FrameTooLarge, `stream item's ${what} of ${n} bytes exceeds ${this.host.remote}'s limit of ${max} (its hello's answer): not sent`);
  }

  /** A new stream on this connection (`ClientStream.openStream`). */
  made(opts: CallOptions): StreamCall {
    return new StreamCall(this, this.windowBytes, opts);
  }

  /** Opens `stream` (`ClientStream.openOn`): a pool's may have been made before it picked this connection. */
  open(stream: StreamCall, action: string | number, msg: Uint8Array, opts: CallOptions): StreamCall {
    if (stream.isDone) return stream;
    stream.carriedBy(this);
    const blob = opts.blob ?? EMPTY_BYTES;
    let wireAction: number | Uint8Array;
    let head: Uint8Array | undefined;
    try {
      wireAction = this.host.checkCall(action, msg, blob);
      if (opts.timeoutMs !== undefined) callTimeout(opts.timeoutMs, 0);
      if (opts.onReplyMetadata !== undefined && typeof opts.onReplyMetadata !== 'function') throw invalidArgument('onReplyMetadata must be a function');
      // Refused as a call's is (a string's characters are no entries, null no record): unopened.
      const notRecord = metadataRefusal(opts.metadata);
      if (notRecord) throw notRecord;
      head = opts.metadata === undefined ? undefined : encodeCallHead(undefined, opts.metadata);
    } catch (err) {
      // Refused unsent, as a call's bad arguments are: nothing of it for a FailoverPool's breaker to count.
      stream.finish(markRefusedUnsent(err instanceof CallHeadError ? invalidArgument(`metadata: ${err.message}`) : (err as Error)), null);
      return stream;
    }
    // Set at each attempt (a pool's stream may open again elsewhere): nothing kept from the last.
    stream.onReplyMetadata = opts.onReplyMetadata;
    stream.replyMetadata = undefined;
    stream.action = action;
    // Not `isDone` after: a FailoverPool may take a refused stream elsewhere, so it is not done.
    // An abort is its caller's doing, unsent: nothing of it for a FailoverPool's breaker to count.
    const refused = this.host.refusal() ?? markRefusedUnsent(abortedAlready(opts));
    if (refused) {
      stream.finish(refused, null);
      return stream;
    }
    const pace = this.host.pace;
    // The deadline first, as for a call: a finer pace counts the idle time since the last tick into `elapsed`.
    if (opts.timeoutMs !== undefined) this.deadlines.add(stream, pace.deadline(opts.timeoutMs), opts.timeoutMs);
    if (this.host.hello.dialect !== 'pending') {
      this.send(stream, wireAction, msg, blob, head, opts.timeoutMs);
      return stream;
    }
    // Waiting for the answer, as a held call does: a peer that drops the hello must say so.
    const acceptedAt = pace.elapsed;
    // However it ends meanwhile (cancelled, past its deadline, failed by whoever holds it), it
    // leaves at once: a close must not wait for the answer on its account.
    stream.waitsIn(() => this.opening.delete(stream));
    this.opening.set(stream, () => {
      if (!this.opening.delete(stream)) return;
      // Checked against the client's own limits only when made: the answer may have named the server's.
      try {
        wireAction = this.host.checkCall(action, msg, blob);
      } catch (err) {
        this.deadlines.forget(stream);
        stream.finish(markRefusedUnsent(err as Error), null);
        return this.host.left();
      }
      if (opts.timeoutMs === undefined) return this.send(stream, wireAction, msg, blob, head, undefined);
      // What is left, read off the clock as a held call's is: the ticks alone leave out up to a
      // period since the last one, which the open would carry to its server as time its caller
      // does not wait (a hop's `{ ctx }` stream would outlive the call it was made for).
      const remaining = opts.timeoutMs - (pace.now() - acceptedAt);
      if (remaining > 0) return this.send(stream, wireAction, msg, blob, head, remaining);
      // Spent waiting: never sent, as a held call that is (sent, its deadline of 0 ms would be answered Timeout, read "may have run").
      this.deadlines.forget(stream);
      stream.finish(new RpcError(ErrorCode.Timeout, `stream to ${this.host.remote} waited its ${opts.timeoutMs} ms for the hello's answer and was never opened`, { retry: 'safe' }), null);
      this.host.left();
    });
    this.host.askVerdict();
    return stream;
  }

  /** The hello's answer is in: the streams waiting for it open, in order. */
  openWaiting(): void {
    if (this.opening.size === 0) return;
    // A copy: opening one may run code that opens another.
    for (const open of [...this.opening.values()]) open();
  }

  /** A frame for no pending call: a stream's item, credit, reply head or answer, or a late reply (dropped, as is anything for a stream no longer open). */
  frame(seq: number, bytes: Uint8Array, start: number, end: number): void {
    const stream = this.streams.get(seq);
    if (!stream) return;
    const flag = bytes[start + RES_FLAG_AT];
    if (flag === CREDIT_FLAG) return stream.granted(u32(bytes, start + RES_MSG_LEN_AT));
    if (flag === DATA_FLAG) {
      const bodyAt = start + RESPONSE_HEADER_LENGTH;
      const msgEnd = bodyAt + u32(bytes, start + RES_MSG_LEN_AT);
      if (stream.received(bytes, bodyAt, msgEnd, end)) return;
      // Sent past the credit we granted: the peer is broken, and would fill our memory.
      const err = new Error(`${this.host.remote} sent a stream item without credit`);
      this.host.logger.warn({ remote: this.host.remote }, err.message);
      return this.host.lost(err);
    }
    // Its answer has flag 0, 1 or 2, as a call's: any other (a server ping's under its seq) is a
    // broken server, which ends its connection, the stream still open so that the close fails it with IO.
    if (flag! > ResponseFlag.ErrorString) {
      // A reply head (gRPC's trailers): the stream's end follows, the stream stays open for it.
      if (flag === REPLY_METADATA_FLAG) return readReplyMetadata(stream, this.host.hello, this.host, bytes, start, end, 'stream');
      throw new FrameError(`the answer to stream ${seq} has flag ${flag}: a stream's answer is ok (0) or an error (1, 2)`);
    }
    this.streams.delete(seq);
    this.deadlines.forget(stream);
    // Before its end reaches the reader (a `for await`'s last turn, `result`): told as a call's is.
    if (stream.onReplyMetadata !== undefined) stream.tellReplyMetadata(this.host);
    this.host.settle(stream, bytes, start, end);
    this.host.left();
  }

  data(seq: number, msg: Uint8Array, blob: Uint8Array, more: boolean): void {
    if (this.closed) return;
    writeRequestHeader(this.header, DATA_ACTION, 0, seq, msg.length, blob.length);
    this.conn.write(this.header);
    if (msg.length !== 0) this.conn.write(msg);
    if (blob.length !== 0) this.conn.write(blob);
    if (more) this.conn.deferFlush?.();
  }

  end(seq: number): void {
    this.host.writeBare(END_ACTION, seq);
  }

  credit(seq: number, bytes: number): void {
    if (!this.closed && this.streams.get(seq) !== undefined) this.conn.write(creditRequest(seq, bytes));
  }

  cancel(stream: StreamCall): void {
    // Seq 0: cancelled before it opened (waiting for the hello's answer): nothing to tell the server.
    if (stream.seq === 0) this.opening.delete(stream);
    else if (this.streams.delete(stream.seq)) this.host.writeBare(CANCEL_ACTION, stream.seq);
    // After the cancel is written: a stream a pool opens here in its place reaches the server
    // behind it, and the server frees the cancelled one's place as it reads it (no Overloaded).
    this.host.left();
  }

  congested(): DrainWaiters | undefined {
    return this.conn.congested ? this.drains : undefined;
  }

  observerDropped(err: unknown): void {
    this.host.logger.warn({ remote: this.host.remote, err }, OBSERVER_DROPPED);
  }

  /** The connection's send buffer drained: held writes go on. */
  drained(): void {
    this.drains.drained();
  }

  /** Once a tick: ends the streams past their deadline (`now`: ticked time). */
  tick(now: number): void {
    if (this.deadlines.size !== 0) this.deadlines.sweep(now);
  }

  /**
   * True when no stream is open or waiting to open. One that ends while it waits for the hello's
   * answer leaves `opening` as it ends (`open`), so nothing is looked through here: a closing
   * connection asks on every stream that leaves, and a look through the waiting ones each time
   * made n of them cancelled in one turn cost n².
   */
  idle(): boolean {
    return this.streams.size === 0 && this.opening.size === 0;
  }

  /** The server refused the connection at its hello: the streams waiting for its answer fail with `err`, unsent. */
  refuseWaiting(err: RpcError): void {
    const unopened = [...this.opening.keys()];
    this.opening.clear();
    for (const stream of unopened) stream.finish(err, null);
  }

  /** The connection closed: nothing more is written. */
  close(): void {
    this.closed = true;
  }

  /**
   * The connection is lost: every stream fails with IO; or, after the server's goodbye
   * (`unread`: it had no stream of ours open, and opens none after), with Closed, never ran.
   */
  fail(cause: Error, unread = false): void {
    const remote = this.host.remote;
    const streams = this.streams.values();
    const unopened = [...this.opening.keys()];
    this.streams.clear();
    this.opening.clear();
    // Stackless (withoutStack): made for many streams at once in the close's turn, a stack names only Skein's close handler.
    for (const stream of streams) {
      const err = withoutStack(() =>
        unread
          ? new RpcError(ErrorCode.Closed, `${remote} said goodbye and ended the connection before it read the stream (never ran): ${cause.message}`, { cause, retry: 'safe' })
          : new RpcError(ErrorCode.IO, `connection to ${remote} lost mid-stream: ${cause.message}`, { cause }),
      );
      stream.finish(err, null);
    }
    // Waiting for the hello's answer: nothing of theirs was sent, so a pool may open them elsewhere.
    for (const stream of unopened) stream.finish(withoutStack(() => new RpcError(ErrorCode.IO, `connection to ${remote} lost before the stream was opened: ${cause.message}`, { cause, retry: 'safe' })), null);
  }

  private send(stream: StreamCall, action: number | Uint8Array, msg: Uint8Array, blob: Uint8Array, head: Uint8Array | undefined, remainingMs: number | undefined): void {
    // Cancelled or timed out while it waited: a close may have been waiting for it alone.
    if (stream.isDone) return this.host.left();
    const windows = this.host.hello.agreed?.streams;
    const refused = this.closed
      ? new RpcError(ErrorCode.IO, `connection to ${this.host.remote} lost before the stream was opened`, { retry: 'safe' })
      : !windows
        ? // Nothing of it was sent: a pool may open it on another server (a mixed fleet).
          new RpcError(ErrorCode.Version, `${this.host.remote} does not speak streams (a razor v1 peer, or it did not agree them in the hello)`, { retry: 'safe' })
        : this.host.hello.headTooLarge(head);
    if (refused) {
      stream.finish(refused, null);
      return this.host.left();
    }
    const seq = this.host.nextSeq();
    this.streams.set(seq, stream);
    this.host.writeOpen(seq, action, msg, blob, head, remainingMs);
    stream.opened(seq, windows!.toServer);
  }
}
