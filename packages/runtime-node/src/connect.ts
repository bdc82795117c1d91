import net from 'node:net';
import tls from 'node:tls';
import { DEFAULT_CONNECT_TIMEOUT_MS, connectAborted, connectFailed, connectTimerMs, formatAddress, handshakeTimer, resolveTls, tlsFailure, whenAborted, type Address, type ByteConn, type ConnectOptions, type ResolvedTls, type TlsHandshakeSeen } from '@skein/core';
import { NodeByteConn } from './byte-conn.js';
import { OWN_READS, readInto } from './read-buffer.js';
import { isTcp, netTarget, remoteOf } from './socket-address.js';
import { connectTls } from './tls.js';

/**
 * Opens a TCP or Unix socket connection, with TLS when asked. Every failure to get a connection
 * up (refused, no such host or path, timeout) rejects with Unreachable: the peer never saw a
 * request, so any call may be retried elsewhere. A TLS connection is up once its handshake is
 * done, so `timeoutMs` counts through it: one budget for TCP and TLS together, the handshake
 * bounded by `handshakeTimeoutMs` too (whichever ends first). A failed one rejects with
 * `tlsFailure`'s error (the server refused our certificate: Unauthenticated). An abort of
 * `signal` destroys the socket, wherever the connect is, and rejects with Cancelled.
 */
export function connect(address: Address, options: ConnectOptions = {}): Promise<ByteConn> {
  const { timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS, noDelay = true, signal } = options;
  let secure: ResolvedTls | undefined;
  let secureOptions: tls.ConnectionOptions | undefined;
  try {
    secure = options.tls === undefined ? undefined : resolveTls(options.tls, 'connect');
    secureOptions = secure && connectTls(address, secure);
  } catch (err) {
    return Promise.reject(err);
  }
  // After the options' check: a mistake in them is told even to a caller that gave up already.
  if (signal?.aborted) return Promise.reject(connectAborted(formatAddress(address), signal.reason));
  const remote = formatAddress(address);
  return new Promise((resolve, reject) => {
    const target = { ...netTarget(address), allowHalfOpen: true };
    // A plaintext socket reads into the process's shared buffer (read-buffer.ts); TLS has no `onread`.
    const socket = secureOptions ? tls.connect({ ...target, ...secureOptions }) : net.connect(OWN_READS ? { ...target, onread: readInto(NodeByteConn.onRead) } : target);
    // Paused before it connects, so nothing is read until the caller binds (TLS still handshakes).
    socket.pause();
    const startedAt = performance.now();
    let timer = setTimeout(() => fail(new Error(`no connection within ${timeoutMs} ms`)), connectTimerMs(timeoutMs));
    let handshaking = false;
    // The server's first flight arrived in TLS (keys were derived from it): a close after it is
    // no plaintext server's, and with TLS 1.2 a server asks for our certificate in that flight.
    let serverSpokeTls = false;
    const spokeTls = (): void => void (serverSpokeTls = true);
    const seen = (): TlsHandshakeSeen => ({ presentedCert: secure?.cert !== undefined, serverSpokeTls });
    const fail = (cause: Error): void => failWith(handshaking ? tlsFailure(remote, cause.message, cause, seen()) : connectFailed(remote, cause.message, cause));
    const failWith = (err: Error): void => {
      settle();
      socket.destroy();
      reject(err);
    };
    const connected = (): void => {
      if (isTcp(address)) socket.setNoDelay(noDelay);
      if (secure) return handshake(secure);
      settle();
      resolve(new NodeByteConn(socket, remoteOf(socket, address), undefined, OWN_READS));
    };
    const handshake = (s: ResolvedTls): void => {
      handshaking = true;
      clearTimeout(timer);
      const { ms, why } = handshakeTimer(timeoutMs, performance.now() - startedAt, s.handshakeTimeoutMs);
      timer = setTimeout(() => fail(new Error(why)), ms);
    };
    const secured = (): void => {
      settle();
      resolve(new NodeByteConn(socket, remoteOf(socket, address), { presentedCert: secure?.cert !== undefined }));
    };
    // A peer that closes without an error (a plaintext server dropping our ClientHello) is a failure too.
    const closed = (): void => fail(new Error(handshaking ? 'the peer closed the connection during the TLS handshake' : 'closed while connecting'));
    let unhookAbort = (): void => {};
    const settle = (): void => {
      clearTimeout(timer);
      unhookAbort();
      socket.off('error', fail).off('connect', connected).off('secureConnect', secured).off('close', closed).off('keylog', spokeTls);
    };
    socket.once('error', fail).once('connect', connected).once('close', closed);
    if (secure) socket.once('secureConnect', secured).once('keylog', spokeTls);
    // Not aborted yet (checked above): told only by a later abort.
    unhookAbort = whenAborted(signal, () => failWith(connectAborted(remote, signal!.reason)));
  });
}
