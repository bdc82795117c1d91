import { ConnLifecycle, FrameError, checkFrameSpecSwap, type ByteConn, type ByteHandlers, type Clock, type FrameConn, type FrameHandlers, type FrameSpec, type PeerIdentity, type Slab, type Ticker } from '@skein/core';
import { FrameReader, type FrameReceiver } from './frame-reader.js';
import { FrameWriter, type BatchLimits, type BatchOutlet } from './frame-writer.js';
import type { PendingFrameBudget } from './pending-frame-budget.js';

/** end() was called: nothing more is written. */
const ENDING = 1;
/** The socket refused the last batch: congested until its drain. */
const SEND_BLOCKED = 2;
/** A plaintext connection this side dialled: a TLS server closes it without a word. */
const PLAIN_CLIENT = 4;
/** Accepted by a listener that asks for client certificates, before the handshake: `identity` may still come. */
const IDENTITY_PENDING = 8;
/** This side dialled it (plaintext or TLS): a client, which owes a peer that broke framing no linger. */
const DIALLED = 16;

/** Who dialled a connection: this side, in plaintext or over TLS, or the peer (undefined: accepted by a listener). */
export type Dialled = 'plain' | 'tls' | undefined;

/** What the connections of one transport share. */
export interface FrameConnSettings {
  readonly slab: Slab;
  readonly copyThreshold: number;
  readonly batch: BatchLimits;
  readonly clock: Clock;
  readonly lingerMs: number;
  /** A frame is held whole while it arrives, charged to a budget of this many bytes: the largest frame there can be (FrameConn.maxFrameBytes). */
  readonly maxPendingFrameBytes: number;
}

/**
 * Frames over a ByteConn. ConnLifecycle holds received chunks while paused (a pause stops
 * delivery at once, even in the middle of a chunk) and reports the close once. Anything thrown
 * while reading (a FrameError from the spec's `bodyLength`, or whatever a frame, drain or end
 * handler throws) closes this connection and is reported through `close(err)`: a throwing
 * handler is a bug above, but hanging the connection would hide it.
 */
export class TcpFrameConn extends ConnLifecycle<FrameHandlers, Uint8Array> implements FrameConn, FrameReceiver, BatchOutlet {
  private readonly reader: ByteSide;
  private readonly writer: FrameWriter;
  /** The bits below, in one field rather than three (8 bytes each, at 10,000 idle connections). */
  private bits: number;
  /** Where parsing goes on in the held chunk at the head, after a pause inside it. */
  private at = 0;
  /** Drops a failed connection whose peer does not close after our last words. */
  private linger: Ticker | undefined;
  /** Bytes the ByteConn has handed over so far (FrameConn.receivedBytes): one add per chunk, not per frame. */
  private receivedTotal = 0;

  constructor(
    private readonly conn: ByteConn,
    spec: FrameSpec,
    private readonly settings: FrameConnSettings,
    budget: PendingFrameBudget,
    /** Dialled by this side ('plain': a TLS server closes it without a word), or accepted (undefined). */
    dialled: Dialled = undefined,
    identityPending = false,
  ) {
    super();
    this.bits = (dialled !== undefined ? DIALLED : 0) | (dialled === 'plain' ? PLAIN_CLIENT : 0) | (identityPending ? IDENTITY_PENDING : 0);
    // The connection itself receives the frames and sends the batches: no closure per connection.
    this.reader = new ByteSide(spec, budget, this);
    this.writer = new FrameWriter(settings.slab, settings.copyThreshold, settings.batch, this);
  }

  /** The ByteConn's name for the peer, read when first asked for. */
  protected override describeRemote(): string {
    return this.conn.remote;
  }

  /** A frame over the pending-frame budget closes the connection, whatever else it holds: the largest one it can carry (Infinity: none, left out). */
  get maxFrameBytes(): number | undefined {
    const max = this.settings.maxPendingFrameBytes;
    return max === Infinity ? undefined : max;
  }

  get congested(): boolean {
    return (this.bits & SEND_BLOCKED) !== 0;
  }

  /** end() was called: nothing more is written. */
  private get ending(): boolean {
    return (this.bits & ENDING) !== 0;
  }

  get identity(): PeerIdentity | undefined {
    return this.conn.identity;
  }

  get identityPending(): boolean {
    return (this.bits & IDENTITY_PENDING) !== 0;
  }

  get midFrame(): boolean {
    return this.reader.midFrame;
  }

  /** The same as midFrame here: part of a frame is held, stalled or not. */
  get receiving(): boolean {
    return this.reader.midFrame;
  }

  /** The frame under way waits for room in the pending-frame budget, reading paused (midFrame stays true: the read timeout runs on). */
  get waitingForRoom(): boolean {
    return this.reader.waiting;
  }

  /** What the kernel has taken (FrameConn.sentBytes), as the runtime tells it: undefined where it cannot. */
  get sentBytes(): number | undefined {
    return this.conn.sentBytes;
  }

  /** What the peer has sent that has arrived so far, whole frames or not (FrameConn.receivedBytes). */
  get receivedBytes(): number {
    return this.receivedTotal;
  }

  /** The next header is read by `spec`: one over its limits closes the connection before its body is held. */
  setFrameSpec(spec: FrameSpec): void {
    checkFrameSpecSwap(this.reader.spec, spec);
    this.reader.spec = spec;
  }

  write(part: Uint8Array): void {
    if (!this.stopped && !this.over && !this.ending) this.writer.write(part);
  }

  flush(): void {
    if (!this.stopped && !this.over && !this.ending) this.writer.flush();
  }

  deferFlush(): void {
    this.writer.defer();
  }

  end(): void {
    if (this.stopped || this.over || this.ending) return;
    this.writer.flush();
    this.bits |= ENDING;
    this.conn.end();
  }

  /** The ByteConn is bound even when this connection closed first: its close is what reports ours. */
  protected override startReading(): void {
    if (this.paused) this.conn.pause();
    this.conn.bind(this.reader);
  }

  /** ByteSide's `data`: a chunk from the ByteConn. */
  bytesIn(chunk: Uint8Array): void {
    this.receivedTotal += chunk.length;
    this.received(chunk);
  }

  /** ByteSide's `end`: the peer half-closed. */
  bytesEnded(): void {
    this.endReceived();
  }

  /** ByteSide's `close`: the ByteConn is gone. */
  bytesGone(err: Error | undefined): void {
    this.gone(err ?? (this.stopped ? undefined : this.reader.silentClose((this.bits & PLAIN_CLIENT) !== 0)));
  }

  protected override pauseReading(): void {
    this.conn.pause();
  }

  /** Not while a piece waits for room in the budget: what came meanwhile would be held beside it, unbounded. */
  protected override resumeReading(): void {
    if (!this.reader.waiting) this.conn.resume();
  }

  protected consume(chunk: Uint8Array): boolean {
    const stop = this.reader.push(chunk, this.at);
    if (stop < chunk.length) {
      this.at = stop;
      // Waits for room in the budget with this chunk kept (held until then), reading no more.
      if (this.reader.waiting) this.conn.pause();
      return false;
    }
    this.at = 0;
    return true;
  }

  /**
   * The reader's: the piece that waited has its room. Read on in a microtask, not inside the
   * `give` of the connection that freed it, in the middle of that one's frame.
   */
  roomGiven(): void {
    queueMicrotask(() => this.readOn());
  }

  private readOn(): void {
    if (this.stopped) return;
    // Gone meanwhile (cleanly): what is held is delivered, then the close.
    if (!this.paused && !this.over) this.conn.resume();
    this.deliverHeld();
  }

  protected closeTransport(): void {
    this.conn.close();
  }

  protected override stop(failure: Error | undefined): void {
    super.stop(failure);
    this.writer.discard();
    this.reader.discard();
  }

  protected override dispose(): void {
    this.linger?.stop();
    this.writer.discard();
    this.reader.discard();
  }

  /**
   * Closes because of `err`. When the peer sent something malformed (a FrameError), the answers
   * already queued for its earlier frames go out first, then the error's last words (the
   * protocol's error reply) if it has any. A connection accepted by a listener then ends its
   * side; the peer gets `lingerMs` to close in turn, while what it still sends is read and
   * dropped, so that nothing owed is lost to a reset (and the close is reported, and the
   * server's connection counted, until then). One this side dialled closes at once: the server
   * that broke framing (a stranger: an HTTP server, a banner) is owed nothing worth making the
   * caller wait `lingerMs` for its error when it never closes. Any other error is a bug above:
   * the connection closes at once.
   */
  protected override fail(err: Error): void {
    if (this.stopped || this.over) return;
    if (!(err instanceof FrameError) || this.ending) return super.fail(err);
    if (err.lastWords !== undefined) this.writer.write(err.lastWords);
    this.writer.flush();
    if ((this.bits & DIALLED) !== 0) return super.fail(err);
    this.stop(err);
    this.conn.end();
    this.conn.resume();
    this.linger = this.settings.clock.every(this.settings.lingerMs, () => this.conn.close());
  }

  /** After every frame the peer sent: its end, unless it ended in the middle of a frame. */
  protected override deliverEnd(h: FrameHandlers): void {
    if (this.reader.midFrame) this.fail(this.reader.endedMidFrame());
    else super.deliverEnd(h);
  }

  /** The reader's: a whole frame; false stops the reader after it. */
  frameRead(bytes: Uint8Array, start: number, end: number): boolean {
    this.handlers!.frame(bytes, start, end);
    return !this.paused && !this.stopped;
  }

  /** The writer's: a batch for the socket. */
  sendBatch(chunks: Uint8Array[]): void {
    if (this.conn.write(chunks)) this.bits &= ~SEND_BLOCKED;
    else this.bits |= SEND_BLOCKED;
  }

  /** ByteSide's `drain`. */
  bytesDrained(): void {
    this.bits &= ~SEND_BLOCKED;
    this.drained();
  }
}

/**
 * The connection's frame reader, which is also its ByteConn's handlers, passing each event on to
 * the connection (methods shared by every connection: four closures per connection add up at
 * 10,000 idle ones; and one object, not two: docs/benchmarks.md, "Memory"). Not TcpFrameConn
 * itself: its `end` and `close` mean something else.
 */
class ByteSide extends FrameReader<TcpFrameConn> implements ByteHandlers {
  data(chunk: Uint8Array): void {
    this.sink.bytesIn(chunk);
  }

  drain(): void {
    this.sink.bytesDrained();
  }

  end(): void {
    this.sink.bytesEnded();
  }

  close(err?: Error): void {
    this.sink.bytesGone(err);
  }
}
