import { DEFAULT_CONNECT_TIMEOUT_MS, connectFailed, connectTimerMs, formatAddress } from '@skein/core';
import type { Address, ByteConn, ConnectOptions } from '@skein/core';
import { BunByteConn, socketHandlers } from './byte-conn.js';
import type { BunApi } from './native-api.js';
import { bunTarget, describe } from './socket-address.js';

declare const Bun: BunApi;

/**
 * Opens a TCP or Unix socket connection; every failure rejects with Unreachable. Bun cannot abort
 * a connect in progress: after the timeout it is abandoned, and closed if it succeeds later.
 */
export function connect(address: Address, options: ConnectOptions = {}): Promise<ByteConn> {
  const remote = formatAddress(address);
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown, why = describe(err)): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(connectFailed(remote, why, err));
    };
    const timer = setTimeout(() => fail(undefined, `no connection after ${timeoutMs} ms`), connectTimerMs(timeoutMs));
    const handlers = socketHandlers((socket) => {
      const conn = new BunByteConn(socket, remote);
      if (settled) {
        conn.close();
        return;
      }
      settled = true;
      clearTimeout(timer);
      if (!('path' in address)) socket.setNoDelay(options.noDelay ?? true);
      resolve(conn);
    });
    // With this handler Bun does not also report the rejected promise as unhandled.
    handlers.connectError = (_socket, err) => fail(err);
    try {
      Bun.connect({ ...bunTarget(address), allowHalfOpen: true, socket: handlers }).catch(fail);
    } catch (err) {
      fail(err);
    }
  });
}
