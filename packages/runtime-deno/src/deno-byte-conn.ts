import { ChunkQueue, type ByteConn, type ByteHandlers } from '@skein/core';

import type { DenoConn } from './deno-api.js';

/** Bytes asked of one read. */
const READ_SIZE = 64 * 1024;
/** `write` returns false once this much is waiting to be sent. */
const HIGH_WATER = 64 * 1024;

/**
 * A ByteConn on a Deno connection: a read loop that pulls while not paused, and a write loop that
 * sends the outbox in order. Deno's reads and writes are promises, so both loops are async and
 * everything they report comes from a later turn than the call that caused it.
 */
export class DenoByteConn implements ByteConn {
  private handlers: ByteHandlers | undefined;
  private readBuffer = new Uint8Array(READ_SIZE);
  private paused = false;
  private wakeReader: (() => void) | undefined;
  private readonly outbox = new ChunkQueue();
  /** Bytes of the piece being written that Deno has not taken yet. */
  private inFlight = 0;
  private writing = false;
  /** write() returned false: tell the handlers when everything is sent. */
  private wantDrain = false;
  /** end() was called: the write side shuts once the outbox is sent. */
  private ending = false;
  private writeShut = false;
  private peerEnded = false;
  private finished = false;
  private closeErr: Error | undefined;
  private closeReported = false;

  constructor(
    private readonly conn: DenoConn,
    readonly remote: string,
  ) {}

  /** Starts reading: until now, what the peer sent waits in the kernel. */
  bind(handlers: ByteHandlers): void {
    if (this.handlers) throw new Error(`connection to ${this.remote} is already bound`);
    this.handlers = handlers;
    if (this.finished) this.reportClose();
    else void this.readLoop(handlers);
  }

  write(chunks: readonly Uint8Array[]): boolean {
    if (this.finished || this.ending) return false;
    for (const c of chunks) this.outbox.push(c);
    if (!this.writing && !this.outbox.empty) void this.writeLoop();
    if (this.outbox.bytes + this.inFlight < HIGH_WATER) return true;
    this.wantDrain = true;
    return false;
  }

  /** The read loop stops pulling; a read already under way is held until resume. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wakeReader?.();
  }

  end(): void {
    if (this.finished || this.ending) return;
    this.ending = true;
    if (!this.writing) void this.shutdownWrite();
  }

  close(): void {
    this.finish();
  }

  private async readLoop(h: ByteHandlers): Promise<void> {
    try {
      for (;;) {
        if (this.paused) await this.whilePaused();
        if (this.finished) return;
        const chunk = await this.read();
        if (this.paused) await this.whilePaused(); // the read was under way when pause() came
        if (this.finished) return;
        if (chunk === null) return this.onPeerEnd(h);
        if (chunk.length > 0) h.data(chunk);
      }
    } catch (err) {
      this.finish(err);
    }
  }

  private async whilePaused(): Promise<void> {
    while (this.paused && !this.finished) {
      await new Promise<void>((resolve) => (this.wakeReader = resolve));
      this.wakeReader = undefined;
    }
  }

  /** The next chunk, or null at the peer's FIN. */
  private async read(): Promise<Uint8Array | null> {
    const n = await this.conn.read(this.readBuffer);
    if (n === null) return null;
    // The chunk is the receiver's for good, so a buffer that was handed out is never read into
    // again: a short read is copied out and the buffer kept, a long one is handed over whole.
    if (n < READ_SIZE / 4) return this.readBuffer.slice(0, n);
    const chunk = this.readBuffer.subarray(0, n);
    this.readBuffer = new Uint8Array(READ_SIZE);
    return chunk;
  }

  private onPeerEnd(h: ByteHandlers): void {
    this.peerEnded = true;
    if (!this.ending) {
      // Without an end handler, finish writing and close (Node's allowHalfOpen: false).
      if (h.end) h.end();
      else this.end();
    }
    this.finishIfDone();
  }

  private async writeLoop(): Promise<void> {
    this.writing = true;
    try {
      while (!this.outbox.empty) {
        const piece = this.outbox.take();
        // Deno may take part of a write: go on from where it stopped.
        for (let sent = 0; sent < piece.length; ) {
          this.inFlight = piece.length - sent;
          sent += await this.conn.write(sent === 0 ? piece : piece.subarray(sent));
          if (this.finished) return;
        }
        this.inFlight = 0;
      }
    } catch (err) {
      this.finish(err);
      return;
    } finally {
      this.writing = false;
    }
    if (this.ending) {
      await this.shutdownWrite();
    } else if (this.wantDrain) {
      this.wantDrain = false;
      this.handlers?.drain();
    }
  }

  private async shutdownWrite(): Promise<void> {
    try {
      await this.conn.closeWrite();
    } catch (err) {
      this.finish(err);
      return;
    }
    this.writeShut = true;
    this.finishIfDone();
  }

  /** Both directions are over: the connection closes cleanly. */
  private finishIfDone(): void {
    if (this.peerEnded && this.writeShut) this.finish();
  }

  private finish(err?: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.outbox.clear();
    this.wakeReader?.();
    try {
      this.conn.close(); // pending reads and writes reject, and are ignored
    } catch {
      // already closed by Deno
    }
    if (err !== undefined) this.closeErr = err instanceof Error ? err : new Error(String(err));
    this.reportClose();
  }

  private reportClose(): void {
    if (!this.handlers || this.closeReported) return;
    this.closeReported = true;
    this.handlers.close(this.closeErr);
  }
}
