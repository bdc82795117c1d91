import net from 'node:net';
import { DEFAULT_CONNECT_TIMEOUT_MS, connectFailed, connectTimerMs, formatAddress, type Address, type ByteConn, type ConnectOptions } from '@skein/core';
import { NodeByteConn } from './byte-conn.js';
import { isTcp, netTarget, remoteOf } from './socket-address.js';

/**
 * Opens a TCP or Unix socket connection. Every failure to get a connection up (refused, no such
 * host or path, timeout) rejects with Unreachable: the peer never saw a request, so any call may
 * be retried elsewhere.
 */
export function connect(address: Address, options: ConnectOptions = {}): Promise<ByteConn> {
  const { timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS, noDelay = true } = options;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ ...netTarget(address), allowHalfOpen: true });
    // Paused before it connects, so nothing is read until the caller binds.
    socket.pause();
    const timer = setTimeout(() => fail(new Error(`no connection within ${timeoutMs} ms`)), connectTimerMs(timeoutMs));
    const fail = (cause: Error): void => {
      settle();
      socket.destroy();
      reject(connectFailed(formatAddress(address), cause.message, cause));
    };
    const connected = (): void => {
      settle();
      if (isTcp(address)) socket.setNoDelay(noDelay);
      resolve(new NodeByteConn(socket, remoteOf(socket, address)));
    };
    const settle = (): void => {
      clearTimeout(timer);
      socket.off('error', fail).off('connect', connected);
    };
    socket.once('error', fail).once('connect', connected);
  });
}
