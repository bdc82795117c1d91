import { DEFAULT_CONNECT_TIMEOUT_MS, connectFailed, connectTimerMs, formatAddress, handshakeTimer, tlsFailure } from '@skein/core';
import type { Address, ByteConn, ConnectOptions, ResolvedTls } from '@skein/core';
import { BunByteConn, socketHandlers } from './byte-conn.js';
import type { BunApi } from './native-api.js';
import { bunTarget, describe } from './socket-address.js';
import { TlsState, bunTls, handshakeRefusal, resolveBunTls, tlsLoadFailure } from './tls.js';

declare const Bun: BunApi;

/**
 * Opens a TCP or Unix socket connection; every failure rejects with Unreachable. Bun cannot abort
 * a connect in progress: after the timeout it is abandoned, and closed if it succeeds later. A
 * TLS connection is up once its handshake is done: `timeoutMs` counts through it, one budget for
 * TCP and TLS, the handshake bounded by `handshakeTimeoutMs` too.
 */
export function connect(address: Address, options: ConnectOptions = {}): Promise<ByteConn> {
  const remote = formatAddress(address);
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  let secure: ResolvedTls | undefined;
  try {
    secure = options.tls === undefined ? undefined : resolveBunTls(options.tls, 'connect');
  } catch (err) {
    return Promise.reject(err);
  }
  const tls = secure && { state: new TlsState(secure), side: 'client' as const };
  return new Promise((resolve, reject) => {
    let settled = false;
    let handshaking = false;
    const fail = (err: unknown, why = describe(err)): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject((secure && !handshaking && tlsLoadFailure(err)) || (handshaking ? tlsFailure(remote, why, err) : connectFailed(remote, why, err)));
    };
    const startedAt = performance.now();
    let timer = setTimeout(() => fail(undefined, `no connection after ${timeoutMs} ms`), connectTimerMs(timeoutMs));
    const handlers = socketHandlers((socket) => {
      const conn = new BunByteConn(socket, remote, tls);
      if (settled) {
        conn.close();
        return;
      }
      if (!('path' in address)) socket.setNoDelay(options.noDelay ?? true);
      if (tls) {
        // Up once the handshake is done: the handshake handler settles.
        handshaking = true;
        clearTimeout(timer);
        const { ms, why } = handshakeTimer(timeoutMs, performance.now() - startedAt, tls.state.settings.handshakeTimeoutMs);
        timer = setTimeout(() => (fail(undefined, why), conn.close()), ms);
        return;
      }
      settled = true;
      clearTimeout(timer);
      resolve(conn);
    });
    if (tls) {
      handlers.handshake = (socket, success, authorizationError) => {
        const conn = socket.data!;
        const refused = handshakeRefusal(success, authorizationError, false, 'client');
        if (refused !== undefined) {
          fail(authorizationError, refused);
          conn.close();
          return;
        }
        conn.onHandshake(success, authorizationError);
        if (settled) return conn.close();
        settled = true;
        clearTimeout(timer);
        resolve(conn);
      };
      // A peer that closes during the handshake (a plaintext server dropping our hello).
      const onClose = handlers.close!;
      handlers.close = (socket, err) => {
        fail(err, err ? describe(err) : 'the peer closed the connection during the TLS handshake');
        onClose(socket, err);
      };
    }
    // With this handler Bun does not also report the rejected promise as unhandled.
    handlers.connectError = (_socket, err) => fail(err);
    try {
      Bun.connect({ ...bunTarget(address), allowHalfOpen: true, socket: handlers, ...(secure && { tls: bunTls(secure, 'connect', address) }) }).catch(fail);
    } catch (err) {
      fail(err);
    }
  });
}
