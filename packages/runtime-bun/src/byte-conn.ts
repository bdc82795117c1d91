import { ByteConnLifecycle, ChunkQueue, connectTimerMs, tlsAcceptError, tlsCloseError, type ByteConn, type PeerIdentity } from '@skein/core';
import type { BunSocket, BunSocketHandler } from './native-api.js';
import { handshakeRefusal, type TlsState } from './tls.js';

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
    handshake: (socket, success, authorizationError) => socket.data?.onHandshake(success, authorizationError),
  };
}

/** A TLS connection's side and state. */
export interface BunConnTls {
  readonly state: TlsState;
  readonly side: 'client' | 'server';
}

/**
 * A ByteConn on a Bun socket (opened with `allowHalfOpen`, so a FIN from the peer closes nothing
 * by itself).
 *
 * Received chunks are handed on as Bun gives them: Bun copies each read out of its shared receive
 * buffer into a fresh array (checked on Bun 1.4: every `data` call gets its own ArrayBuffer), so
 * the receiver owns the chunk without another copy here. A read Bun had under way when paused is
 * held by ConnLifecycle.
 *
 * Bun's `write` is one send(2) with no buffering behind it: what the kernel does not take is
 * returned as a short count and is ours to send again. The outbox keeps that, in order, and goes
 * on at Bun's `drain`.
 */
export class BunByteConn extends ByteConnLifecycle implements ByteConn {
  private readonly outbox = new ChunkQueue();
  /** write() returned false: tell the handlers when the outbox empties. */
  private wantDrain = false;
  /** end() was called: FIN goes out once the outbox is empty. */
  private ending = false;
  /** Anything received yet: a TLS server that refuses our certificate closes before it sends a byte. */
  private heard = false;
  /** Bytes Bun's sends took (ByteConn.sentBytes): each send is one send(2), so what it took is the kernel's. */
  private sent = 0;
  private handshakeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly socket: Socket,
    remote: string,
    private readonly tls?: BunConnTls,
  ) {
    super(remote);
    socket.data = this;
    // Nothing is read before bind: what the peer sends waits in the kernel. Except a TLS
    // handshake, which a paused socket would stall (a server's would then wait for bind, its
    // timeout running from accept): it pauses once that is done.
    if (!tls) socket.pause();
    if (tls?.side === 'server') this.startHandshakeTimer(tls.state.settings.handshakeTimeoutMs);
  }

  get identity(): PeerIdentity | undefined {
    return this.tls?.state.identity(this.socket, this.tls.side);
  }

  /** TLS: the handshake is over; a server refuses a client whose certificate did not verify, before a byte of it is read. */
  onHandshake(success: boolean, authorizationError: (Error & { code?: string }) | null): void {
    if (!this.tls || this.tls.state.verified) return;
    clearTimeout(this.handshakeTimer);
    const refused = handshakeRefusal(success, authorizationError, this.tls.state.settings.requestCert, this.tls.side);
    // A listener's client that spoke no TLS fails here (BoringSSL's WRONG_VERSION_NUMBER): said so.
    if (refused !== undefined) return this.fail(this.tls.side === 'server' ? tlsAcceptError(new Error(refused)) : new Error(refused));
    this.tls.state.verified = true;
    // Paused before the handshake was done (pause() before or after bind), it stays so: the socket
    // read on to let the handshake finish, and reading on past it held all the peer sent.
    if (this.handlers === undefined || this.paused) this.socket.pause();
  }

  private startHandshakeTimer(ms: number): void {
    // Capped: past 2^31-1 ms setTimeout fires at once, closing every connection before its handshake.
    this.handshakeTimer = setTimeout(() => this.fail(new Error(`TLS handshake not done within ${ms} ms`)), connectTimerMs(ms));
    (this.handshakeTimer as { unref?: () => void }).unref?.();
  }

  write(chunks: readonly Uint8Array[]): boolean {
    // Dropped, as on Node: false would have the writer wait for a drain that never comes; the
    // close handler tells it why.
    if (this.stopped || this.over || this.ending) return true;
    // While earlier bytes wait for the socket, new ones queue behind them: the kernel buffer is
    // full, so a send now would be refused; the writable callback sends them in order.
    const waiting = !this.outbox.empty;
    for (const c of chunks) this.outbox.push(c);
    if (!waiting && this.flush()) return true;
    this.wantDrain = true;
    return false;
  }

  end(): void {
    if (this.stopped || this.over || this.ending) return;
    this.ending = true;
    // Bun's own end() closes both directions; shutdown() is the half-close.
    if (this.outbox.empty) this.socket.shutdown();
  }

  get sentBytes(): number {
    return this.sent;
  }

  onData(chunk: Uint8Array): void {
    this.heard = true;
    this.received(chunk);
  }

  onWritable(): void {
    if (this.stopped || this.over || !this.flush()) return;
    if (this.ending) {
      this.socket.shutdown();
    } else if (this.wantDrain) {
      this.wantDrain = false;
      this.drained();
    }
  }

  onPeerEnd(): void {
    this.endReceived();
  }

  /** A callback of ours threw inside Bun. */
  onError(err: Error): void {
    // Also how Bun reports a TLS alert from the server (its certificate refused: typed here).
    this.fail(this.tls?.side === 'client' ? (tlsCloseError(this.remote, err, this.heard, this.tls.state.settings.cert !== undefined) ?? err) : err);
  }

  onClose(err?: Error): void {
    this.outbox.clear();
    clearTimeout(this.handshakeTimer);
    const tls = this.tls;
    this.gone(tls?.side === 'client' && !this.stopped ? tlsCloseError(this.remote, err, this.heard, tls.state.settings.cert !== undefined) : err);
  }

  protected override startReading(): void {
    if (!this.paused && !this.stopped && !this.over) this.socket.resume();
  }

  protected override pauseReading(): void {
    // Bun stops reading, so the kernel buffer fills and the peer slows down.
    this.socket.pause();
  }

  protected override resumeReading(): void {
    this.socket.resume();
  }

  protected closeTransport(): void {
    this.outbox.clear();
    this.socket.close(); // runs onClose before it returns
  }

  /** Sends what the kernel takes; true when the outbox is empty. */
  private flush(): boolean {
    while (!this.outbox.empty) {
      const piece = this.outbox.take();
      const n = this.socket.write(piece);
      if (n > 0) this.sent += n;
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
}
