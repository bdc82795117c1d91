import {
  ConnLifecycle,
  EMPTY_BYTES,
  ErrorCode,
  FrameError,
  RpcError,
  checkFrameSpec,
  checkFrameSpecSwap,
  type FrameConn,
  type FrameHandlers,
  type FrameSpec,
  type PeerIdentity,
} from '@skein/core';
import { CloseCode, closeCodeFor, closeReason, errorForClose } from './close-codes.js';
import { MessageBatcher } from './message-batcher.js';
import { readFrames } from './message-reader.js';

/** What a MessageConn needs from one WebSocket library (ws, uWebSockets.js, the standard API). */
export interface MessageSocket {
  /** Bytes accepted by `send` and not yet written to the kernel. */
  readonly bufferedAmount: number;
  /** Sends `chunks`, in order, as one binary message. */
  send(chunks: Uint8Array[]): void;
  /**
   * True when `pause` stops reading the socket, so the peer slows down. Where it cannot (uWS, the
   * standard API in browsers and Deno), the conn holds at most `maxHeldBytes` while paused.
   */
  readonly pausesReading: boolean;
  pause(): void;
  resume(): void;
  /**
   * Starts the closing handshake. `givingUp`: this side drops the peer (`close()`, a failure), so
   * the adapter waits only briefly for its answer, as a hostile peer never gives one; otherwise
   * (both sides ended) as long as its library does, so what is still queued reaches the peer.
   */
  close(code: number, reason: string, givingUp?: boolean): void;
  /** Drops the connection without a handshake. */
  terminate(): void;
  /** The conn is waiting for the buffer to drain: adapters without a drain signal poll `written`. */
  watchDrain(): void;
  /**
   * True while part of a message has arrived, the library holds it, and no byte of it came since
   * the last look: stalled mid-message (what FrameConn.midFrame reports, for the server's read
   * timeout). Adapters that cannot tell leave it out.
   */
  readonly midMessage?: boolean;
  /** True while part of a message has arrived, stalled or not (FrameConn.receiving); no side effects. Adapters that cannot tell leave it out. */
  readonly partial?: boolean;
  /** Bytes the kernel has taken so far, message framing included (FrameConn.sentBytes); only grows. Adapters that cannot tell leave it out. */
  readonly sentBytes?: number;
  /** Bytes received from the peer so far, message framing included (FrameConn.receivedBytes); only grows. Adapters that cannot tell leave it out. */
  readonly receivedBytes?: number;
}

export interface MessageConnOptions {
  maxBatchBytes: number;
  batchFrames: number;
  highWaterMark: number;
  maxHeldBytes: number;
  /** How long a peer given up on has to answer the close frame before its socket is dropped. */
  lingerMs: number;
  /** The largest message the socket takes from the peer: a frame never spans messages, so the largest frame too (`maxFrameBytes`). */
  maxWsMessageBytes: number;
}

/**
 * WebSocket has no half-close: a close frame makes the peer answer with its own and stop
 * sending, which would cut off replies still in flight. So `end()` is sent in-band as an empty
 * binary message (the batcher never sends an empty one), and the closing handshake starts only
 * once both sides have ended.
 */
const END_MARKER: Uint8Array[] = [EMPTY_BYTES];

/**
 * What a held message costs besides its bytes (its ArrayBuffer, its view, its place in the queue:
 * about 200 bytes of heap on Node 20), counted against `maxHeldBytes`: a peer sending tiny
 * messages to a connection that cannot stop reading held ~50 times what the limit said.
 */
const HELD_MESSAGE_COST = 200;

/**
 * A FrameConn over any message socket: batches writes into messages and splits received
 * messages into frames; ConnLifecycle holds them while unbound or paused and reports the close
 * once. The socket adapter feeds it through `receive`, `written` and `ended`.
 */
export class MessageConn extends ConnLifecycle<FrameHandlers, Uint8Array> implements FrameConn {
  /** The verified TLS client identity of a wss connection (mTLS), set by the server that accepted it. */
  identity: PeerIdentity | undefined;
  /** Accepted by a wss listener that asks for client certificates, before its handshake: `identity` may still come. */
  identityPending = false;
  private readonly batcher: MessageBatcher;
  /** How far into the held message at the head frames have been delivered. */
  private at = 0;
  /**
   * What the messages received and not yet read from hold: their bytes, and HELD_MESSAGE_COST
   * each. The message being read (its first frames delivered, a pause came before its last) is
   * no longer counted: it is the connection's own current message, which arrived before the pause,
   * not one held behind it. A server yields every FRAMES_PER_TURN frames, so a near-cap message of
   * small frames is paused partway as a matter of course; counted whole, it left no room under the
   * default maxHeldBytes (= maxWsMessageBytes) for the peer's next message, and a socket that
   * cannot stop reading dropped a well-behaved client with 1013. A hostile peer still holds at most
   * maxHeldBytes behind the current message, which is itself within maxWsMessageBytes.
   */
  private heldBytes = 0;
  private wantDrain = false;
  /** A drain check is queued for after the current run (see `queueDrainCheck`). */
  private drainCheckQueued = false;
  private sentEnd = false;
  /** The peer's end marker has arrived (it may still wait behind held messages). */
  private peerEnding = false;
  /** The peer's end marker has been delivered. */
  private peerEnded = false;
  /**
   * How many times this conn stopped reading its socket: a keepalive does not take a pong that
   * waited unread behind a pause for a missed one.
   */
  private pausesSoFar = 0;
  /** Bytes of the library's own answers to pings queued while congested (see `answeredPing`). */
  private unreadPongs = 0;

  constructor(
    remote: string,
    /** What received messages are cut by: the connection may change it (`setFrameSpec`); what it sends keeps the first one's outbound. */
    private spec: FrameSpec,
    private readonly socket: MessageSocket,
    private readonly options: MessageConnOptions,
  ) {
    super(remote);
    checkFrameSpec(spec);
    // The batcher cuts what we send at frame boundaries: those are the outbound frames.
    this.batcher = new MessageBatcher(spec.outbound ?? spec, this.sendBatch, options);
  }

  /** A frame never spans messages: one over `maxWsMessageBytes` closes the connection (1009). Read off the shared options: nothing per connection. */
  get maxFrameBytes(): number {
    return this.options.maxWsMessageBytes;
  }

  /**
   * The peer carries no message over `bytes` (its maxWsMessageBytes, from its hello's answer):
   * what this conn sends is cut into messages of at most min(maxBatchBytes, bytes). A frame
   * over it alone is the caller's to refuse (the stream layer does, unsent).
   */
  setPeerMaxFrameBytes(bytes: number): void {
    this.batcher.capMessages(bytes);
  }

  /**
   * The next frame header is read by `spec`. A message arrives whole (the library holds it, up to
   * `maxWsMessageBytes`), so a frame over `spec` is refused before it is handed on, not before
   * its bytes are in memory.
   */
  setFrameSpec(spec: FrameSpec): void {
    checkFrameSpecSwap(this.spec, spec);
    this.spec = spec;
  }

  write(part: Uint8Array): void {
    if (this.stopped || this.over || this.sentEnd) return;
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

  deferFlush(): void {
    this.batcher.defer();
  }

  /** A message is partly received and stalled (only where the socket adapter can tell): the server's read timeout watches it. */
  get midFrame(): boolean {
    return this.socket.midMessage === true;
  }

  /** A message is partly received, stalled or not (FrameConn.receiving); undefined where the socket adapter cannot tell. */
  get receiving(): boolean | undefined {
    return this.socket.partial;
  }

  /** What the kernel has taken (FrameConn.sentBytes); undefined where the socket adapter cannot tell. */
  get sentBytes(): number | undefined {
    return this.socket.sentBytes;
  }

  /** What has arrived of the peer's so far (FrameConn.receivedBytes); undefined where the socket adapter cannot tell. */
  get receivedBytes(): number | undefined {
    return this.socket.receivedBytes;
  }

  get congested(): boolean {
    const over = this.buffered() >= this.options.highWaterMark;
    if (over && !this.wantDrain && !this.stopped && !this.over) {
      this.wantDrain = true;
      this.socket.watchDrain();
    }
    return over;
  }

  end(): void {
    if (this.stopped || this.over || this.sentEnd) return;
    this.batcher.flush();
    this.sentEnd = true;
    this.socket.send(END_MARKER);
    if (this.peerEnded) this.socket.close(CloseCode.Normal, '');
  }

  /**
   * Closes because of `err`, with a close code that says why. On a FrameError (the peer broke
   * framing: a message that ends mid-frame, a header over the spec) the answers already written
   * to the whole frames before it go out first, as transport-tcp sends them, then its
   * `lastWords` (the protocol's error reply) if it has any: dropped with the batch, a message
   * holding a hello, a ping and half a frame got only the close back.
   */
  override fail(err: unknown, code: number = closeCodeFor(err)): void {
    if (this.stopped || this.over) return;
    const e = err instanceof Error ? err : new Error(String(err));
    if (e instanceof FrameError && !this.sentEnd) {
      this.batcher.flush();
      if (e.lastWords) this.socket.send([e.lastWords]);
    }
    this.stop(e);
    this.socket.close(code, closeReason(e.message), true);
    this.gone(undefined);
  }

  /** Drops the connection at once (the peer is unresponsive: a close frame would wait in vain). */
  abort(err: Error): void {
    if (this.stopped || this.over) return;
    this.stop(err);
    this.socket.terminate();
    this.gone(undefined);
  }

  /** Adapter: a whole message arrived. The conn owns `data` from now on. */
  receive(data: Uint8Array, binary: boolean): void {
    if (this.stopped || this.over) return;
    if (!binary) return this.fail(new FrameError('text message: Skein frames travel in binary messages'), CloseCode.UnsupportedData);
    if (this.peerEnding) return this.fail(new FrameError('message after the end marker'));
    if (data.length === 0) {
      this.peerEnding = true;
      return this.endReceived();
    }
    const cost = data.length + HELD_MESSAGE_COST;
    // One message of maxHeldBytes is held whatever it costs besides: the slack is its own cost.
    // Over it, an owner paused only to yield reads on (`readsOn`), up to twice it: past that the
    // peer sends faster than the yields let this side read, and is dropped as any other.
    const max = this.options.maxHeldBytes + HELD_MESSAGE_COST;
    if (this.heldBytes + cost > max && this.mustHold() && (this.heldBytes + cost > 2 * max || !this.readsOn())) return this.fail(this.overflow(cost));
    this.heldBytes += cost;
    this.received(data);
  }

  /**
   * Adapter (uWS): the library answered a ping on its own, queueing `bytes` to send. It reads on
   * while this conn is paused, so a peer that pings and never reads would grow the send buffer
   * without bound: the answers queued while congested count against `maxHeldBytes`, as held
   * messages do, and past it the peer is dropped (it does not read: a close frame would wait in vain).
   */
  answeredPing(bytes: number): void {
    if (this.stopped || this.over) return;
    if (this.buffered() < this.options.highWaterMark) return void (this.unreadPongs = 0);
    this.unreadPongs += bytes;
    if (this.unreadPongs <= this.options.maxHeldBytes) return;
    const why = `the peer left ${this.unreadPongs} bytes of answers to its pings unread, over maxHeldBytes (${this.options.maxHeldBytes}), while congested`;
    this.abort(new RpcError(ErrorCode.Overloaded, why, { retry: 'idempotent' }));
  }

  /**
   * Adapter: some buffered bytes were written out. Reports `drain` once the buffer is back under
   * the high-water mark; returns true while a drain is still awaited (for polling adapters).
   */
  written(): boolean {
    if (!this.wantDrain || this.stopped || this.over) return false;
    if (this.buffered() >= this.options.highWaterMark) return true;
    this.wantDrain = false;
    // Called from a library callback (ws's send callback, uWS's drain) or our drain check: a
    // throwing handler fails the connection instead of escaping there.
    this.drained();
    return false;
  }

  /** Adapter: the socket is gone. After a clean close, frames already received are still delivered first. */
  ended(code: number, reason: string, cause?: Error): void {
    if (this.over) return;
    this.batcher.discard();
    this.gone(errorForClose(code, reason, cause));
  }

  protected override stop(failure: Error | undefined): void {
    super.stop(failure);
    this.batcher.discard();
  }

  /** How many times this conn has stopped reading its socket. */
  get readPauses(): number {
    return this.pausesSoFar;
  }

  /** The socket is not being read now: paused, on a socket that can stop reading. */
  get readingPaused(): boolean {
    return this.paused && this.socket.pausesReading;
  }

  /** The socket reads from the start (messages before bind are held); a pause before bind takes effect now. */
  protected override startReading(): void {
    if (this.paused && !this.stopped && !this.over) this.pauseReading();
  }

  protected override pauseReading(): void {
    this.pausesSoFar++;
    this.socket.pause();
  }

  protected override resumeReading(): void {
    this.socket.resume();
  }

  protected consume(message: Uint8Array): boolean {
    const from = this.at;
    const at = readFrames(message, from, this.spec, this.onFrame);
    // Its first frame read: no longer held (see heldBytes), whether it ends now or later.
    if (from === 0 && at > 0) this.heldBytes -= message.length + HELD_MESSAGE_COST;
    if (at < message.length) {
      this.at = at;
      return false;
    }
    this.at = 0;
    return true;
  }

  protected closeTransport(): void {
    this.socket.close(CloseCode.Normal, '', true);
    this.gone(undefined);
  }

  /** The peer will send nothing more; once both sides have ended, the closing handshake starts. */
  protected override deliverEnd(h: FrameHandlers): void {
    this.peerEnded = true;
    const bothEnded = this.sentEnd;
    super.deliverEnd(h);
    if (bothEnded && !this.stopped && !this.over) this.socket.close(CloseCode.Normal, '');
  }

  /**
   * A message arriving now would wait: the conn is paused, unbound, or still holds earlier ones.
   * Unbound counts on every socket: one that can pause still reads until the bind (a client's
   * may wait there for its credentials), so a peer could fill that gap without bound.
   */
  private mustHold(): boolean {
    return this.handlers === undefined || (!this.socket.pausesReading && (this.paused || this.heldBytes > 0 || this.at > 0));
  }

  /**
   * Over maxHeldBytes: a bound owner paused only to yield the event loop gives way (`overHeld`:
   * one more turn's frames), and then what is held and `data` are read on from now.
   */
  private readsOn(): boolean {
    const h = this.handlers;
    if (h === undefined) return false;
    if (this.paused) h.overHeld?.();
    return !this.paused && !this.stopped && !this.over;
  }

  private overflow(incoming: number): RpcError {
    const held = this.heldBytes + incoming;
    // The requests or replies held were sent, and may have run: not safe to retry blindly.
    return new RpcError(
      ErrorCode.Overloaded,
      `the peer sent ${held} bytes this side holds unread (counting ${HELD_MESSAGE_COST} a message besides its bytes), over maxHeldBytes (${this.options.maxHeldBytes}): this WebSocket cannot stop reading while paused`,
      { retry: 'idempotent' },
    );
  }

  private readonly onFrame = (bytes: Uint8Array, start: number, end: number): boolean => {
    this.handlers!.frame(bytes, start, end);
    return !this.paused && !this.stopped;
  };

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

  private buffered(): number {
    return this.socket.bufferedAmount + this.batcher.queuedBytes;
  }
}
