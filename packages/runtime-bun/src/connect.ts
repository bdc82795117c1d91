import { DEFAULT_CONNECT_TIMEOUT_MS, connectAborted, connectFailed, connectTimerMs, formatAddress, handshakeTimer, tlsFailure, whenAborted } from '@skein/core';
import type { Address, ByteConn, ConnectOptions, ResolvedTls } from '@skein/core';
import { BunByteConn, socketHandlers, type BunConnTls, type Socket } from './byte-conn.js';
import type { BunApi, BunSocketHandler } from './native-api.js';
import { bunTarget, describe } from './socket-address.js';
import { TlsState, bunTls, clientVerdict, handshakeRefusal, resolveBunTls, tlsLoadFailure } from './tls.js';

declare const Bun: BunApi;

/**
 * Opens a TCP or Unix socket connection; every failure rejects with Unreachable. Bun cannot abort
 * a TCP connect in progress: after the timeout (or an abort) it is abandoned, and closed if it succeeds later. A
 * TLS connection is up once its handshake is done: `timeoutMs` counts through it, one budget for
 * TCP and TLS, the handshake bounded by `handshakeTimeoutMs` too. An abort of `signal` rejects
 * with Cancelled at once: a socket under its TLS handshake is closed, and one Bun opens later too.
 */
export function connect(address: Address, options: ConnectOptions = {}): Promise<ByteConn> {
  const remote = formatAddress(address);
  let secure: ResolvedTls | undefined;
  try {
    secure = options.tls === undefined ? undefined : resolveBunTls(options.tls, 'connect');
  } catch (err) {
    return Promise.reject(err);
  }
  // After the options' check: a mistake in them is told even to a caller that gave up already.
  if (options.signal?.aborted) return Promise.reject(connectAborted(remote, options.signal.reason));
  return new Promise((resolve, reject) => new ConnectAttempt(address, remote, options, secure, resolve, reject).start());
}

/** One connect, from `Bun.connect` until its promise settles (then closing what comes too late). */
class ConnectAttempt {
  private readonly timeoutMs: number;
  private readonly tls: BunConnTls | undefined;
  private readonly startedAt = performance.now();
  private settled = false;
  /** TCP is up and the TLS handshake under way: a failure now is the handshake's. */
  private handshaking = false;
  /** The server's first TLS flight arrived before the handshake failed (see handshakeDone). */
  private serverSpokeTls = false;
  private timer: ReturnType<typeof setTimeout>;
  /** The socket once TCP is up, under its TLS handshake: what an abort closes. */
  private conn: BunByteConn | undefined;
  private unhookAbort: () => void = () => {};

  constructor(
    private readonly address: Address,
    private readonly remote: string,
    private readonly options: ConnectOptions,
    private readonly secure: ResolvedTls | undefined,
    private readonly resolve: (conn: ByteConn) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.tls = secure && { state: new TlsState(secure), side: 'client' };
    this.timer = setTimeout(() => this.fail(undefined, `no connection after ${this.timeoutMs} ms`), connectTimerMs(this.timeoutMs));
  }

  start(): void {
    const { secure, address } = this;
    // Not aborted yet (checked by `connect`): told only by a later abort.
    this.unhookAbort = whenAborted(this.options.signal, () => this.aborted());
    try {
      Bun.connect({ ...bunTarget(address), allowHalfOpen: true, socket: this.handlers(), ...(secure && { tls: bunTls(secure, 'connect', address) }) }).catch((err: unknown) => this.fail(err));
    } catch (err) {
      this.fail(err);
    }
  }

  private handlers(): BunSocketHandler<BunByteConn | undefined> {
    const handlers = socketHandlers((socket) => this.opened(socket));
    if (this.tls) {
      handlers.handshake = (socket, success, authorizationError) => {
        // The server's certificate arrived: it answered in TLS (with TLS 1.2, asking for ours in that flight).
        this.serverSpokeTls = Boolean(socket.getPeerCertificate?.()?.fingerprint256);
        this.handshakeDone(socket.data!, success, authorizationError);
      };
      // A peer that closes during the handshake (a plaintext server dropping our hello).
      const onClose = handlers.close!;
      handlers.close = (socket, err) => {
        this.fail(err, err ? describe(err) : 'the peer closed the connection during the TLS handshake');
        onClose(socket, err);
      };
    }
    // With this handler Bun does not also report the rejected promise as unhandled.
    handlers.connectError = (_socket, err) => this.fail(err);
    return handlers;
  }

  /** TCP is up: the connection is, unless a TLS handshake is still to come. */
  private opened(socket: Socket): void {
    const conn = new BunByteConn(socket, this.remote, this.tls);
    if (this.settled) return conn.close();
    if (!('path' in this.address)) socket.setNoDelay(this.options.noDelay ?? true);
    if (!this.tls) return this.succeed(conn);
    // Up once the handshake is done: the handshake handler settles.
    this.handshaking = true;
    this.conn = conn;
    clearTimeout(this.timer);
    const { ms, why } = handshakeTimer(this.timeoutMs, performance.now() - this.startedAt, this.tls.state.settings.handshakeTimeoutMs);
    this.timer = setTimeout(() => (this.fail(undefined, why), conn.close()), ms);
  }

  private handshakeDone(conn: BunByteConn, reportedSuccess: boolean, reported: (Error & { code?: string }) | null): void {
    const { success, err: authorizationError } = clientVerdict(this.secure!, this.address, reportedSuccess, reported);
    const refused = handshakeRefusal(success, authorizationError, false, 'client');
    if (refused !== undefined) {
      this.fail(authorizationError, refused);
      conn.close();
      return;
    }
    conn.onHandshake(success, authorizationError);
    if (this.settled) return conn.close();
    this.succeed(conn);
  }

  private succeed(conn: BunByteConn): void {
    this.settled = true;
    clearTimeout(this.timer);
    this.unhookAbort();
    this.resolve(conn);
  }

  /** The signal aborted: given up at once; a socket up is closed now, one Bun opens later by `opened`. */
  private aborted(): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.reject(connectAborted(this.remote, this.options.signal!.reason));
    this.conn?.close();
  }

  private fail(err: unknown, why = describe(err)): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.unhookAbort();
    const { secure, handshaking, remote } = this;
    this.reject((secure && !handshaking && tlsLoadFailure(err)) || (handshaking ? tlsFailure(remote, why, err, { presentedCert: secure?.cert !== undefined, serverSpokeTls: this.serverSpokeTls }) : connectFailed(remote, why, err)));
  }
}
