import type net from 'node:net';
import { ByteConnLifecycle, plainBytes, type ByteConn } from '@skein/core';

/**
 * A ByteConn over a `net.Socket`. The socket must arrive paused and created with
 * `allowHalfOpen: true`: paused so nothing is read before `bind` (the kernel holds the bytes),
 * half-open so that after the peer's half-close (reported to `end`) our side stays writable
 * for the replies still owed. Node buffers writes itself and pauses reading for real, so this
 * is the thinnest of the adapters.
 */
export class NodeByteConn extends ByteConnLifecycle implements ByteConn {
  private error: Error | undefined;
  private ended = false;

  constructor(
    private readonly socket: net.Socket,
    remote: string,
  ) {
    super(remote);
    // Listening from the start: an 'error' without a listener would crash the process, and a
    // close before bind must still be reported once bound.
    socket.on('error', (err) => {
      this.error ??= err;
    });
    socket.once('close', () => this.gone(this.error));
  }

  write(chunks: readonly Uint8Array[]): boolean {
    if (this.stopped || this.over || this.ended) return true; // dropped: the close handler tells the writer why
    if (chunks.length === 1) return this.socket.write(chunks[0]!);
    // Corked writes reach the socket as one writev: one syscall for the whole batch.
    this.socket.cork();
    let below = true;
    for (const chunk of chunks) below = this.socket.write(chunk);
    this.socket.uncork();
    return below;
  }

  end(): void {
    this.ended = true;
    this.socket.end();
  }

  protected override startReading(): void {
    if (this.stopped || this.over) return;
    // Node reads into a fresh buffer for every read, so the chunk can be handed on uncopied, as
    // the plain Uint8Array the contract promises (a Buffer's `slice` shares memory, a surprise
    // for code written to Uint8Array's).
    this.socket.on('data', (chunk: Buffer) => this.received(plainBytes(chunk)));
    this.socket.on('drain', () => this.drained());
    this.socket.on('end', () => this.endReceived());
    if (!this.paused) this.socket.resume();
  }

  protected override pauseReading(): void {
    this.socket.pause();
  }

  protected override resumeReading(): void {
    this.socket.resume();
  }

  protected closeTransport(): void {
    this.socket.destroy();
  }
}
