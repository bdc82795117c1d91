import { ConnLifecycle, FrameError, type ByteConn, type ByteHandlers, type Clock, type FrameConn, type FrameHandlers, type FrameSpec, type PeerIdentity, type Slab, type Ticker } from '@skein/core';
import { FrameReader, type FrameReceiver } from './frame-reader.js';
import { FrameWriter, type BatchLimits, type BatchOutlet } from './frame-writer.js';
import type { PendingFrameBudget } from './pending-frame-budget.js';

/** What the connections of one transport share. */
export interface FrameConnSettings {
  readonly slab: Slab;
  readonly copyThreshold: number;
  readonly batch: BatchLimits;
  readonly clock: Clock;
  readonly lingerMs: number;
}

/**
 * Frames over a ByteConn. ConnLifecycle holds received chunks while paused (a pause stops
 * delivery at once, even in the middle of a chunk) and reports the close once. Anything thrown
 * while reading (a FrameError from the spec's `bodyLength`, or whatever a frame, drain or end
 * handler throws) closes this connection and is reported through `close(err)`: a throwing
 * handler is a bug above, but hanging the connection would hide it.
 */
export class TcpFrameConn extends ConnLifecycle<FrameHandlers, Uint8Array> implements FrameConn, FrameReceiver, BatchOutlet {
  private readonly reader: FrameReader;
  private readonly writer: FrameWriter;
  /** end() was called: nothing more is written. */
  private ending = false;
  /** Where parsing goes on in the held chunk at the head, after a pause inside it. */
  private at = 0;
  private sendBlocked = false;
  /** Drops a failed connection whose peer does not close after our last words. */
  private linger: Ticker | undefined;

  constructor(
    private readonly conn: ByteConn,
    spec: FrameSpec,
    private readonly settings: FrameConnSettings,
    budget: PendingFrameBudget,
    /** A plaintext connection this side dialled: a TLS server closes it without a word. */
    private readonly plainClient = false,
  ) {
    super();
    // The connection itself receives the frames and sends the batches: no closure per connection.
    this.reader = new FrameReader(spec, budget, this);
    this.writer = new FrameWriter(settings.slab, settings.copyThreshold, settings.batch, this);
  }

  /** The ByteConn's name for the peer, read when first asked for. */
  protected override describeRemote(): string {
    return this.conn.remote;
  }

  get congested(): boolean {
    return this.sendBlocked;
  }

  get identity(): PeerIdentity | undefined {
    return this.conn.identity;
  }

  get midFrame(): boolean {
    return this.reader.midFrame;
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
    this.ending = true;
    this.conn.end();
  }

  /** The ByteConn is bound even when this connection closed first: its close is what reports ours. */
  protected override startReading(): void {
    if (this.paused) this.conn.pause();
    this.conn.bind(new ByteSide(this));
  }

  /** ByteSide's `data`: a chunk from the ByteConn. */
  bytesIn(chunk: Uint8Array): void {
    this.received(chunk);
  }

  /** ByteSide's `end`: the peer half-closed. */
  bytesEnded(): void {
    this.endReceived();
  }

  /** ByteSide's `close`: the ByteConn is gone. */
  bytesGone(err: Error | undefined): void {
    this.gone(err ?? (this.stopped ? undefined : this.reader.silentClose(this.plainClient)));
  }

  protected override pauseReading(): void {
    this.conn.pause();
  }

  protected override resumeReading(): void {
    this.conn.resume();
  }

  protected consume(chunk: Uint8Array): boolean {
    const stop = this.reader.push(chunk, this.at);
    if (stop < chunk.length) {
      this.at = stop;
      return false;
    }
    this.at = 0;
    return true;
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
   * protocol's error reply) if it has any, then our side ends; the peer gets `lingerMs` to close
   * in turn, while what it still sends is read and dropped, so that nothing owed is lost to a
   * reset. Any other error is a bug above: the connection closes at once.
   */
  protected override fail(err: Error): void {
    if (this.stopped || this.over) return;
    if (!(err instanceof FrameError) || this.ending) return super.fail(err);
    if (err.lastWords !== undefined) this.writer.write(err.lastWords);
    this.writer.flush();
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
    this.sendBlocked = !this.conn.write(chunks);
  }

  /** ByteSide's `drain`. */
  bytesDrained(): void {
    this.sendBlocked = false;
    this.drained();
  }
}

/**
 * The ByteConn's handlers, as one small object whose methods are shared by every connection
 * (four closures per connection add up at 10,000 idle ones). Not TcpFrameConn itself: its `end`
 * and `close` mean something else.
 */
class ByteSide implements ByteHandlers {
  constructor(private readonly frames: TcpFrameConn) {}

  data(chunk: Uint8Array): void {
    this.frames.bytesIn(chunk);
  }

  drain(): void {
    this.frames.bytesDrained();
  }

  end(): void {
    this.frames.bytesEnded();
  }

  close(err?: Error): void {
    this.frames.bytesGone(err);
  }
}
