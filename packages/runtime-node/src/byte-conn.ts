import type net from 'node:net';
import { ByteConnLifecycle, nodeSocketSentBytes, plainBytes, tlsAcceptError, tlsCloseError, type ByteConn, type PeerIdentity } from '@skein/core';
import { peerName } from './socket-address.js';
import { identityOfSocket } from './tls.js';

/** Where a socket's shared listeners find its NodeByteConn. */
const OWNER = Symbol('NodeByteConn');
type OwnedSocket = net.Socket & { [OWNER]: NodeByteConn };

/** end() was called: nothing more is written. */
const ENDED = 1;
/** The 'drain' listener is on: added at the first write the socket refused, as only then does a drain follow. */
const DRAIN_HEARD = 2;
/** Anything received yet: a TLS server that refuses our certificate closes before it sends a byte. */
const HEARD = 4;
/** closeTransport destroyed the socket: the close is ours, not the server's refusal. */
const CLOSED_HERE = 8;
/** The socket reads through `onread` (read-buffer.ts): `onRead` gets its bytes, no 'data' is emitted. */
const OWN_READS = 16;

/**
 * A ByteConn over a `net.Socket`. The socket must arrive paused and created with
 * `allowHalfOpen: true`: paused so nothing is read before `bind` (the kernel holds the bytes),
 * half-open so that after the peer's half-close (reported to `end`) our side stays writable
 * for the replies still owed. Node buffers writes itself and pauses reading for real, so this
 * is the thinnest of the adapters.
 */
export class NodeByteConn extends ByteConnLifecycle implements ByteConn {
  private error: Error | undefined;
  private _identity: PeerIdentity | undefined;
  /** The bits below, in one field rather than four (8 bytes each, at 10,000 idle connections). */
  private bits = 0;

  /**
   * `tls`: this is a TLS client, whose server may refuse it after the handshake (see core's
   * tlsCloseError), or `'accepted'`: a TLS listener's, whose client may speak no TLS (tlsAcceptError).
   */
  constructor(
    private readonly socket: net.Socket,
    /** The peer, for logs; undefined: named from the socket on first use (see socket-address.ts's `holdPeerName`). */
    remote: string | undefined,
    private readonly tls?: { readonly presentedCert: boolean } | 'accepted',
    /** The socket was made with `readInto(NodeByteConn.onRead)`: its bytes come through `onRead`, not 'data'. */
    ownReads = false,
  ) {
    super(remote);
    if (ownReads) this.bits = OWN_READS;
    // The listeners are shared by every connection and find theirs on the socket: closures per
    // connection would cost more than the socket itself at 10,000 idle connections.
    (socket as OwnedSocket)[OWNER] = this;
    // Listening from the start: an 'error' without a listener would crash the process, and a
    // close before bind must still be reported once bound. 'close' is emitted once: no `once`
    // wrapper needed.
    socket.on('error', NodeByteConn.onError);
    socket.on('close', NodeByteConn.onClose);
  }

  private static onError(this: net.Socket, err: Error): void {
    const conn = (this as OwnedSocket)[OWNER];
    conn.error ??= err;
  }

  private static onClose(this: net.Socket): void {
    const conn = (this as OwnedSocket)[OWNER];
    const tls = conn.tls;
    if (tls === 'accepted') return conn.gone(tlsAcceptError(conn.error));
    conn.gone(tls && (conn.bits & CLOSED_HERE) === 0 ? tlsCloseError(conn.remote, conn.error, (conn.bits & HEARD) !== 0, tls.presentedCert) : conn.error);
  }

  // Node reads into a fresh buffer for every read, so the chunk can be handed on uncopied, as the
  // plain Uint8Array the contract promises (a Buffer's `slice` shares memory, a surprise for code
  // written to Uint8Array's).
  private static onData(this: net.Socket, chunk: Buffer): void {
    const conn = (this as OwnedSocket)[OWNER];
    conn.bits |= HEARD;
    conn.received(plainBytes(chunk));
  }

  /** A socket's bytes, through its `onread` callback (read-buffer.ts): already a plain Uint8Array of their own. */
  static onRead(this: net.Socket, bytes: Uint8Array): void {
    const conn = (this as OwnedSocket)[OWNER];
    conn.bits |= HEARD;
    conn.received(bytes);
  }

  private static onDrain(this: net.Socket): void {
    (this as OwnedSocket)[OWNER].drained();
  }

  private static onEnd(this: net.Socket): void {
    (this as OwnedSocket)[OWNER].endReceived();
  }

  protected override describeRemote(): string {
    return peerName(this.socket);
  }

  /** Read once, after the handshake (no byte is delivered before it): a plaintext socket has none. */
  get identity(): PeerIdentity | undefined {
    return (this._identity ??= identityOfSocket(this.socket));
  }

  write(chunks: readonly Uint8Array[]): boolean {
    if (this.stopped || this.over || (this.bits & ENDED) !== 0) return true; // dropped: the close handler tells the writer why
    let below = true;
    if (chunks.length === 1) {
      below = this.socket.write(chunks[0]!);
    } else {
      // Corked writes reach the socket as one writev: one syscall for the whole batch.
      this.socket.cork();
      for (const chunk of chunks) below = this.socket.write(chunk);
      this.socket.uncork();
    }
    if (!below && (this.bits & DRAIN_HEARD) === 0) {
      this.bits |= DRAIN_HEARD;
      this.socket.on('drain', NodeByteConn.onDrain);
    }
    return below;
  }

  /** What the kernel has taken (ByteConn.sentBytes): read from the socket's handle when asked, nothing counted per write. */
  get sentBytes(): number | undefined {
    return nodeSocketSentBytes(this.socket);
  }

  end(): void {
    this.bits |= ENDED;
    this.socket.end();
  }

  protected override startReading(): void {
    if (this.stopped || this.over) return;
    if ((this.bits & OWN_READS) === 0) this.socket.on('data', NodeByteConn.onData);
    this.socket.on('end', NodeByteConn.onEnd);
    if (!this.paused) this.socket.resume();
  }

  protected override pauseReading(): void {
    this.socket.pause();
  }

  protected override resumeReading(): void {
    this.socket.resume();
  }

  protected closeTransport(): void {
    this.bits |= CLOSED_HERE;
    this.socket.destroy();
  }
}
