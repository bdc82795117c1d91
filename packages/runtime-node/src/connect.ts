import net from 'node:net';
import { ErrorCode, RpcError, formatAddress, type Address, type ByteConn, type ConnectOptions } from '@skein/core';
import { NodeConn } from './node-conn.js';
import { isTcp, netTarget, remoteOf } from './socket-address.js';

/**
 * Opens a TCP or Unix socket connection. Every failure to get a connection up (refused, no such
 * host or path, timeout) rejects with Unreachable: the peer never saw a request, so any call may
 * be retried elsewhere.
 */
export function connect(address: Address, options: ConnectOptions = {}): Promise<ByteConn> {
  const { timeoutMs = 10_000, noDelay = true } = options;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ ...netTarget(address), allowHalfOpen: true });
    // Paused before it connects, so nothing is read until the caller binds.
    socket.pause();
    // Node fires a longer (or infinite) delay at once, so it is capped at the longest timer.
    const timer = setTimeout(() => fail(new Error(`no connection within ${timeoutMs} ms`)), Math.min(timeoutMs, MAX_TIMER_MS));
    const fail = (cause: Error): void => {
      settle();
      socket.destroy();
      reject(unreachable(address, cause));
    };
    const connected = (): void => {
      settle();
      if (isTcp(address)) socket.setNoDelay(noDelay);
      resolve(new NodeConn(socket, remoteOf(socket, address)));
    };
    const settle = (): void => {
      clearTimeout(timer);
      socket.off('error', fail).off('connect', connected);
    };
    socket.once('error', fail).once('connect', connected);
  });
}

const MAX_TIMER_MS = 2 ** 31 - 1;

function unreachable(address: Address, cause: Error): RpcError {
  return new RpcError(ErrorCode.Unreachable, `cannot connect to ${formatAddress(address)}: ${cause.message}`, { cause });
}
