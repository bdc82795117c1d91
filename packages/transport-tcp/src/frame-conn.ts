import { FrameError, type ByteConn, type Clock, type FrameConn, type FrameHandlers, type FrameSpec, type Slab, type Ticker } from '@skein/core';
import { FrameReader } from './frame-reader.js';
import { FrameWriter, type BatchLimits } from './frame-writer.js';

/** What the connections of one transport share. */
export interface FrameConnSettings {
  readonly slab: Slab;
  readonly copyThreshold: number;
  readonly batch: BatchLimits;
  readonly clock: Clock;
  readonly lingerMs: number;
}

/**
 * Frames over a ByteConn. Anything thrown while reading (a FrameError from the spec's
 * `bodyLength`, or whatever a frame, drain or end handler throws) closes this connection and is
 * reported through `close(err)`: a throwing handler is a bug above, but hanging the
 * connection would hide it.
 */
export class TcpFrameConn implements FrameConn {
  private handlers: FrameHandlers | undefined;
  private readonly reader: FrameReader;
  private readonly writer: FrameWriter;
  /** `ending` after our end(), `closed` after our close() or a failure. */
  private state: 'open' | 'ending' | 'closed' = 'open';
  private failure: Error | undefined;
  private paused = false;
  /** Received bytes not yet parsed because the connection was paused. */
  private readonly held: Uint8Array[] = [];
  /** The peer's end arrived and waits behind the held bytes. */
  private peerEnded = false;
  private sendBlocked = false;
  /** Drops a failed connection whose peer does not close after our last words. */
  private linger: Ticker | undefined;

  constructor(
    private readonly conn: ByteConn,
    spec: FrameSpec,
    private readonly settings: FrameConnSettings,
  ) {
    this.reader = new FrameReader(spec, (bytes, start, end) => this.onFrame(bytes, start, end));
    this.writer = new FrameWriter(settings.slab, settings.copyThreshold, settings.batch, (chunks) => this.send(chunks));
  }

  get remote(): string {
    return this.conn.remote;
  }

  get congested(): boolean {
    return this.sendBlocked;
  }

  bind(handlers: FrameHandlers): void {
    if (this.handlers) throw new Error(`connection to ${this.remote} is already bound`);
    this.handlers = handlers;
    this.conn.bind({
      data: (chunk) => this.onData(chunk),
      drain: () => this.onDrain(),
      end: () => this.onPeerEnd(),
      close: (err) => this.onClose(err),
    });
  }

  write(part: Uint8Array): void {
    if (this.state === 'open') this.writer.write(part);
  }

  flush(): void {
    if (this.state === 'open') this.writer.flush();
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.conn.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    // Frames held back are delivered after resume() returns, never inside it.
    queueMicrotask(() => this.release());
  }

  end(): void {
    if (this.state !== 'open') return;
    this.writer.flush();
    this.state = 'ending';
    this.conn.end();
  }

  close(): void {
    if (this.state === 'closed') return;
    this.stop(undefined);
    this.conn.close();
  }

  /** Nothing more is delivered or sent; `close(failure)` is reported once the ByteConn closes. */
  private stop(failure: Error | undefined): void {
    this.state = 'closed';
    this.failure = failure;
    this.writer.discard();
    this.held.length = 0;
  }

  /**
   * Closes because of `err`. A FrameError's last words (the protocol's error reply) go out after
   * the frames already queued, then our side ends; the peer gets `lingerMs` to close in turn,
   * while what it still sends is read and dropped, so that the reply is not lost to a reset.
   */
  private fail(err: Error): void {
    if (this.state === 'closed') return;
    const lastWords = err instanceof FrameError && this.state === 'open' ? err.lastWords : undefined;
    if (lastWords === undefined) {
      this.stop(err);
      this.conn.close();
      return;
    }
    this.writer.write(lastWords);
    this.writer.flush();
    this.stop(err);
    this.conn.end();
    this.conn.resume();
    this.linger = this.settings.clock.every(this.settings.lingerMs, () => this.conn.close());
  }

  private send(chunks: Uint8Array[]): void {
    this.sendBlocked = !this.conn.write(chunks);
  }

  private onData(chunk: Uint8Array): void {
    if (this.state === 'closed') return;
    if (this.paused || this.held.length > 0) this.held.push(chunk);
    else this.parse(chunk);
  }

  private parse(chunk: Uint8Array): void {
    try {
      const stop = this.reader.push(chunk);
      if (stop < chunk.length && this.state !== 'closed') this.held.unshift(chunk.subarray(stop));
    } catch (err) {
      this.fail(asError(err));
    }
  }

  private onFrame(bytes: Uint8Array, start: number, end: number): boolean {
    this.handlers!.frame(bytes, start, end);
    return !this.paused && this.state !== 'closed';
  }

  private release(): void {
    while (this.held.length > 0 && !this.paused && this.state !== 'closed') this.parse(this.held.shift()!);
    if (this.paused || this.state === 'closed') return;
    if (this.peerEnded) this.deliverEnd();
    else this.conn.resume();
  }

  private onDrain(): void {
    this.sendBlocked = false;
    if (this.state !== 'closed') this.guard(() => this.handlers!.drain());
  }

  private onPeerEnd(): void {
    if (this.state === 'closed') return;
    this.peerEnded = true;
    if (!this.paused && this.held.length === 0) this.deliverEnd();
  }

  /** After every frame the peer sent: its end, to the handler or, without one, ours too. */
  private deliverEnd(): void {
    this.peerEnded = false;
    if (this.reader.midFrame) this.fail(new FrameError('the peer ended in the middle of a frame'));
    else if (this.handlers!.end) this.guard(() => this.handlers!.end!());
    else this.end();
  }

  private guard(handler: () => void): void {
    try {
      handler();
    } catch (err) {
      this.fail(asError(err));
    }
  }

  private onClose(err: Error | undefined): void {
    this.linger?.stop();
    const failure = this.failure ?? err;
    this.stop(failure);
    this.handlers!.close(failure);
  }
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
