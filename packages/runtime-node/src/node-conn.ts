import type net from 'node:net';
import { plainBytes, type ByteConn, type ByteHandlers } from '@skein/core';

/**
 * A ByteConn over a `net.Socket`. The socket must arrive paused and created with
 * `allowHalfOpen: true`: paused so nothing is read before `bind` (the kernel holds the bytes),
 * half-open so that after the peer's half-close (reported to `end`) our side stays writable
 * for the replies still owed.
 */
export class NodeConn implements ByteConn {
  private handlers: ByteHandlers | undefined;
  private error: Error | undefined;
  private closed = false;
  private closeReported = false;
  private pausedByUser = false;
  private ended = false;

  constructor(
    private readonly socket: net.Socket,
    readonly remote: string,
  ) {
    // Listening from the start: an 'error' without a listener would crash the process, and a
    // close before bind must still be reported once bound.
    socket.on('error', (err) => {
      this.error ??= err;
    });
    socket.once('close', () => this.onClose());
  }

  bind(handlers: ByteHandlers): void {
    if (this.handlers) throw new Error(`connection to ${this.remote} is already bound`);
    this.handlers = handlers;
    // Node reads into a fresh buffer for every read, so the chunk can be handed on uncopied, as
    // the plain Uint8Array the contract promises (a Buffer's `slice` shares memory, a surprise
    // for code written to Uint8Array's).
    this.socket.on('data', (chunk: Buffer) => handlers.data(plainBytes(chunk)));
    this.socket.on('drain', () => handlers.drain());
    this.socket.on('end', () => this.onPeerEnd());
    if (this.closed) queueMicrotask(() => this.reportClose());
    else if (!this.pausedByUser) this.socket.resume();
  }

  write(chunks: readonly Uint8Array[]): boolean {
    if (this.closed || this.ended) return true; // dropped: the close handler tells the writer why
    if (chunks.length === 1) return this.socket.write(chunks[0]!);
    // Corked writes reach the socket as one writev: one syscall for the whole batch.
    this.socket.cork();
    let below = true;
    for (const chunk of chunks) below = this.socket.write(chunk);
    this.socket.uncork();
    return below;
  }

  pause(): void {
    this.pausedByUser = true;
    this.socket.pause();
  }

  resume(): void {
    this.pausedByUser = false;
    if (this.handlers) this.socket.resume();
  }

  end(): void {
    this.ended = true;
    this.socket.end();
  }

  close(): void {
    this.socket.destroy();
  }

  /** Without an end handler, our side ends too (after its pending writes): a full close. */
  private onPeerEnd(): void {
    if (this.handlers!.end) this.handlers!.end();
    else this.end();
  }

  private onClose(): void {
    this.closed = true;
    if (this.handlers) this.reportClose();
  }

  private reportClose(): void {
    if (this.closeReported) return;
    this.closeReported = true;
    this.handlers!.close(this.error);
  }
}
