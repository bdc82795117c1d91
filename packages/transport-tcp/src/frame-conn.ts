import { ConnLifecycle, FrameError, type ByteConn, type Clock, type FrameConn, type FrameHandlers, type FrameSpec, type Slab, type Ticker } from '@skein/core';
import { FrameReader } from './frame-reader.js';
import { FrameWriter, type BatchLimits } from './frame-writer.js';
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
export class TcpFrameConn extends ConnLifecycle<FrameHandlers, Uint8Array> implements FrameConn {
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
  ) {
    super(conn.remote);
    this.reader = new FrameReader(spec, budget, this.onFrame);
    this.writer = new FrameWriter(settings.slab, settings.copyThreshold, settings.batch, (chunks) => this.send(chunks));
  }

  get congested(): boolean {
    return this.sendBlocked;
  }

  write(part: Uint8Array): void {
    if (!this.stopped && !this.over && !this.ending) this.writer.write(part);
  }

  flush(): void {
    if (!this.stopped && !this.over && !this.ending) this.writer.flush();
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
    this.conn.bind({
      data: (chunk) => this.received(chunk),
      drain: () => this.onDrain(),
      end: () => this.endReceived(),
      close: (err) => this.gone(err),
    });
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
    if (this.reader.midFrame) this.fail(new FrameError('the peer ended in the middle of a frame'));
    else super.deliverEnd(h);
  }

  private readonly onFrame = (bytes: Uint8Array, start: number, end: number): boolean => {
    this.handlers!.frame(bytes, start, end);
    return !this.paused && !this.stopped;
  };

  private send(chunks: Uint8Array[]): void {
    this.sendBlocked = !this.conn.write(chunks);
  }

  private onDrain(): void {
    this.sendBlocked = false;
    this.drained();
  }
}
