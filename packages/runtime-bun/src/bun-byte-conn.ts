import { ChunkQueue, type ByteConn, type ByteHandlers } from '@skein/core';
import type { BunSocket, BunSocketHandler } from './bun-api.js';


export type Socket = BunSocket<BunByteConn | undefined>;

/**
 * Bun's handlers for sockets that carry a BunByteConn in `socket.data`. Bun shares one handler
 * set among all the sockets of a listener, so the per-connection state lives on the socket.
 * `open` makes the conn (its constructor puts it on the socket); everything after forwards to it.
 */
export function socketHandlers(open: (socket: Socket) => void): BunSocketHandler<BunByteConn | undefined> {
  return {
    // Plain Uint8Arrays: a Buffer's slice() is a view, a surprise for code written to the contract.
    binaryType: 'uint8array',
    open,
    data: (socket, chunk) => socket.data?.onData(chunk),
    drain: (socket) => socket.data?.onWritable(),
    end: (socket) => socket.data?.onPeerEnd(),
    error: (socket, err) => socket.data?.onError(err),
    close: (socket, err) => socket.data?.onClose(err),
  };
}

/**
 * A ByteConn on a Bun socket (opened with `allowHalfOpen`, so a FIN from the peer closes nothing
 * by itself).
 *
 * Received chunks are handed on as Bun gives them: Bun copies each read out of its shared receive
 * buffer into a fresh array (checked on Bun 1.4: every `data` call gets its own ArrayBuffer), so
 * the receiver owns the chunk without another copy here.
 *
 * Bun's `write` is one send(2) with no buffering behind it: what the kernel does not take is
 * returned as a short count and is ours to send again. The outbox keeps that, in order, and goes
 * on at Bun's `drain`.
 */
export class BunByteConn implements ByteConn {
  private handlers: ByteHandlers | undefined;
  /** Received and not yet delivered: Bun may report a read it had under way after pause(). */
  private inbox: Uint8Array[] = [];
  private readonly outbox = new ChunkQueue();
  private paused = false;
  private delivering = false;
  /** write() returned false: tell the handlers when the outbox empties. */
  private wantDrain = false;
  /** end() was called: FIN goes out once the outbox is empty. */
  private ending = false;
  /** Nothing more goes out: close() was called or the socket is gone. */
  private closed = false;
  /** The peer sent FIN; reported once the inbox before it is delivered. */
  private peerEnded = false;
  private peerEndReported = false;
  /** How the socket closed, once it has; reported after the inbox unless it failed. */
  private closedWith: { err?: Error } | undefined;
  private closeReported = false;
  /** A handler of ours threw: the close reports this. */
  private failure: Error | undefined;

  constructor(
    private readonly socket: Socket,
    readonly remote: string,
  ) {
    socket.data = this;
    // Nothing is read before bind: what the peer sends waits in the kernel.
    socket.pause();
  }

  bind(handlers: ByteHandlers): void {
    if (this.handlers) throw new Error(`connection to ${this.remote} is already bound`);
    this.handlers = handlers;
    if (!this.paused && !this.closed) this.socket.resume();
    this.deliver();
  }

  write(chunks: readonly Uint8Array[]): boolean {
    if (this.closed || this.ending) return false;
    // While earlier bytes wait for the socket, new ones queue behind them: the kernel buffer is
    // full, so a send now would be refused; the writable callback sends them in order.
    const waiting = !this.outbox.empty;
    for (const c of chunks) this.outbox.push(c);
    if (!waiting && this.flush()) return true;
    this.wantDrain = true;
    return false;
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    // Bun stops reading, so the kernel buffer fills and the peer slows down.
    if (!this.closed) this.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (!this.closed && this.handlers) this.socket.resume();
    this.deliver();
  }

  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    // Bun's own end() closes both directions; shutdown() is the half-close.
    if (this.outbox.empty) this.socket.shutdown();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.inbox = [];
    this.outbox.clear();
    this.socket.close(); // runs onClose before it returns
  }

  onData(chunk: Uint8Array): void {
    this.inbox.push(chunk);
    this.deliver();
  }

  onWritable(): void {
    if (this.closed || !this.flush()) return;
    if (this.ending) {
      this.socket.shutdown();
    } else if (this.wantDrain) {
      this.wantDrain = false;
      this.handlers?.drain();
    }
  }

  onPeerEnd(): void {
    this.peerEnded = true;
    this.deliver();
  }

  onError(err: Error): void {
    this.failure ??= err;
    this.close();
  }

  onClose(err?: Error): void {
    this.closed = true;
    this.outbox.clear();
    const failure = this.failure ?? err;
    // A failed connection stops at once; a clean close comes after the data before it.
    if (failure) this.inbox = [];
    this.closedWith = { err: failure };
    this.deliver();
  }

  /** Sends what the kernel takes; true when the outbox is empty. */
  private flush(): boolean {
    while (!this.outbox.empty) {
      const piece = this.outbox.take();
      const n = this.socket.write(piece);
      if (n === piece.length) continue;
      if (n < 0) {
        // Shut or closed under us: the close handler follows.
        this.outbox.clear();
        return false;
      }
      this.outbox.putBack(n === 0 ? piece : piece.subarray(n));
      return false;
    }
    return true;
  }

  /** Hands the inbox, then the peer's end, then the close to the handlers, as far as pause allows. */
  private deliver(): void {
    const h = this.handlers;
    if (!h || this.delivering) return;
    this.delivering = true;
    try {
      while (!this.paused && this.inbox.length > 0) h.data(this.inbox.shift()!);
      if (this.inbox.length > 0) return;
      if (this.peerEnded && !this.peerEndReported && !this.closedWith && !this.paused) {
        this.peerEndReported = true;
        // Without an end handler, finish writing and close (Node's allowHalfOpen: false).
        if (h.end) h.end();
        else this.end();
      }
      if (this.closedWith && !this.closeReported) {
        this.closeReported = true;
        h.close(this.closedWith.err);
      }
    } finally {
      this.delivering = false;
    }
  }
}
