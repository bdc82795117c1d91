import { FrameError, checkFrameSpec, invalidArgument, type FrameConn, type FrameHandlers, type FrameSpec } from '@skein/core';
import { CloseCode, closeCodeFor, closeReason, errorForClose } from './close-codes.js';
import { MessageBatcher } from './message-batcher.js';
import { readFrames } from './message-reader.js';

/** What a MessageConn needs from one WebSocket library (ws, uWebSockets.js, the standard API). */
export interface MessageSocket {
  /** Bytes accepted by `send` and not yet written to the kernel. */
  readonly bufferedAmount: number;
  /** Sends `chunks`, in order, as one binary message. */
  send(chunks: Uint8Array[]): void;
  pause(): void;
  resume(): void;
  /** Starts the closing handshake. */
  close(code: number, reason: string): void;
  /** Drops the connection without a handshake. */
  terminate(): void;
  /** The conn is waiting for the buffer to drain: adapters without a drain signal poll `written`. */
  watchDrain(): void;
}

export interface MessageConnOptions {
  batchBytes: number;
  batchFrames: number;
  highWaterMark: number;
}

/**
 * WebSocket has no half-close: a close frame makes the peer answer with its own and stop
 * sending, which would cut off replies still in flight. So `end()` is sent in-band as an empty
 * binary message (the batcher never sends an empty one), and the closing handshake starts only
 * once both sides have ended.
 */
const END_MARKER: Uint8Array[] = [new Uint8Array(0)];

/** A received message, and how far into it frames have been delivered. */
interface Inbound {
  data: Uint8Array;
  at: number;
}

/**
 * A FrameConn over any message socket: batches writes into messages, splits messages into
 * frames, holds frames while unbound or paused, and reports the close exactly once. The socket
 * adapter feeds it through `receive`, `written` and `ended`.
 */
export class MessageConn implements FrameConn {
  private handlers?: FrameHandlers;
  private readonly batcher: MessageBatcher;
  private readonly inbox: Inbound[] = [];
  private paused = false;
  private pumping = false;
  private wantDrain = false;
  /** A drain check is queued for after the current run (see `queueDrainCheck`). */
  private drainCheckQueued = false;
  private sentEnd = false;
  /** The peer's end marker has arrived (it may still wait in the inbox). */
  private peerEnding = false;
  /** The peer's end marker has been delivered. */
  private peerEnded = false;
  /** Set once the connection is over; `err` is what `close` will report. */
  private final?: { err?: Error };
  /** True after a local close: nothing more is delivered. */
  private stopped = false;
  private reported = false;

  constructor(
    readonly remote: string,
    private readonly spec: FrameSpec,
    private readonly socket: MessageSocket,
    private readonly options: MessageConnOptions,
  ) {
    checkFrameSpec(spec);
    // The batcher cuts what we send at frame boundaries: those are the outbound frames.
    this.batcher = new MessageBatcher(spec.outbound ?? spec, this.sendBatch, options);
  }

  bind(handlers: FrameHandlers): void {
    if (this.handlers) throw invalidArgument('FrameConn.bind called twice');
    this.handlers = handlers;
    this.pump();
  }

  write(part: Uint8Array): void {
    if (this.final || this.sentEnd) return;
    try {
      this.batcher.write(part);
    } catch (err) {
      // Our own outgoing frame is malformed: the batch can no longer be cut into frames.
      this.fail(err, CloseCode.Internal);
      throw err;
    }
  }

  flush(): void {
    this.batcher.flush();
  }

  get congested(): boolean {
    const over = this.buffered() >= this.options.highWaterMark;
    if (over && !this.wantDrain && !this.final) {
      this.wantDrain = true;
      this.socket.watchDrain();
    }
    return over;
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
    this.pump();
  }

  end(): void {
    if (this.final || this.sentEnd) return;
    this.batcher.flush();
    this.sentEnd = true;
    this.socket.send(END_MARKER);
    if (this.peerEnded) this.socket.close(CloseCode.Normal, '');
  }

  close(): void {
    if (this.final) return;
    this.stop(undefined);
    this.socket.close(CloseCode.Normal, '');
    this.pump();
  }

  /**
   * Closes because of `err`, with a close code that says why. A FrameError's `lastWords` (the
   * protocol's error reply) go out first, after the whole frames already written.
   */
  fail(err: unknown, code: number = closeCodeFor(err)): void {
    if (this.final) return;
    const e = err instanceof Error ? err : new Error(String(err));
    if (e instanceof FrameError && e.lastWords && !this.sentEnd) {
      this.batcher.flush();
      this.socket.send([e.lastWords]);
    }
    this.stop(e);
    this.socket.close(code, closeReason(e.message));
    this.pump();
  }

  /** Drops the connection at once (the peer is unresponsive: a close frame would wait in vain). */
  abort(err: Error): void {
    if (this.final) return;
    this.stop(err);
    this.socket.terminate();
    this.pump();
  }

  /** Adapter: a whole message arrived. The conn owns `data` from now on. */
  receive(data: Uint8Array, binary: boolean): void {
    if (this.final) return;
    if (!binary) return this.fail(new FrameError('text message: Skein frames travel in binary messages'), CloseCode.UnsupportedData);
    if (this.peerEnding) return this.fail(new FrameError('message after the end marker'));
    if (data.length === 0) this.peerEnding = true;
    this.inbox.push({ data, at: 0 });
    this.pump();
  }

  /**
   * Adapter: some buffered bytes were written out. Reports `drain` once the buffer is back under
   * the high-water mark; returns true while a drain is still awaited (for polling adapters).
   */
  written(): boolean {
    if (!this.wantDrain || this.final) return false;
    if (this.buffered() >= this.options.highWaterMark) return true;
    this.wantDrain = false;
    try {
      this.handlers?.drain();
    } catch (err) {
      // Called from a library callback (ws's send callback, uWS's drain) or our drain check: a throw
      // would escape there.
      this.fail(err);
    }
    return false;
  }

  /** Adapter: the socket is gone. Frames already received are still delivered, then `close`. */
  ended(code: number, reason: string, cause?: Error): void {
    if (this.final) return;
    this.final = { err: errorForClose(code, reason, cause) };
    this.batcher.discard();
    this.pump();
  }

  /** The batcher's sink: one message to the socket. */
  private readonly sendBatch = (chunks: Uint8Array[]): void => {
    this.socket.send(chunks);
    if (this.wantDrain) this.queueDrainCheck();
  };

  /**
   * `congested` counts bytes still queued in the batcher, but adapters only report `written` on
   * the library's own events: uWS fires drain only after real backpressure, so when a flush
   * hands everything to a socket that takes it at once, no event would ever come and a sender
   * paused on `congested` would wait forever. So we check again ourselves once the socket has
   * the bytes; in a microtask, because a drain handler run from inside write or flush would
   * re-enter the caller.
   */
  private queueDrainCheck(): void {
    if (this.drainCheckQueued) return;
    this.drainCheckQueued = true;
    queueMicrotask(this.checkDrain);
  }

  private readonly checkDrain = (): void => {
    this.drainCheckQueued = false;
    // Still over the mark (real backpressure): the adapter's own drain signal reports it later.
    this.written();
  };

  private stop(err: Error | undefined): void {
    this.final = { err };
    this.stopped = true;
    this.inbox.length = 0;
    this.batcher.discard();
  }

  private buffered(): number {
    return this.socket.bufferedAmount + this.batcher.queuedBytes;
  }

  /** Delivers held frames in order, then the close; re-entrant calls leave it to the outer one. */
  private pump(): void {
    if (!this.handlers || this.pumping || this.reported) return;
    this.pumping = true;
    try {
      this.deliverInbox();
    } catch (err) {
      this.fail(err);
    } finally {
      this.pumping = false;
    }
    if (this.final && this.inbox.length === 0 && !this.reported) {
      this.reported = true;
      this.handlers.close(this.final.err);
    }
  }

  private deliverInbox(): void {
    while (this.inbox.length > 0 && !this.paused && !this.stopped) {
      const m = this.inbox[0]!;
      if (m.data.length === 0) {
        this.inbox.shift();
        this.onPeerEnd();
        continue;
      }
      m.at = readFrames(m.data, m.at, this.spec, this.onFrame);
      if (m.at === m.data.length && this.inbox[0] === m) this.inbox.shift();
    }
  }

  private readonly onFrame = (bytes: Uint8Array, start: number, end: number): boolean => {
    this.handlers!.frame(bytes, start, end);
    return !this.paused && !this.stopped;
  };

  /** The peer will send nothing more. Without an `end` handler we finish our side too. */
  private onPeerEnd(): void {
    this.peerEnded = true;
    if (this.sentEnd) this.socket.close(CloseCode.Normal, '');
    else if (this.handlers!.end) this.handlers!.end();
    else this.end();
  }
}

