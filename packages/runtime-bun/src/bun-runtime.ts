import { DEFAULT_CONNECT_TIMEOUT_MS, connectFailed, connectTimerMs, formatAddress, systemClock } from '@skein/core';
import type { Address, ByteConn, ByteListener, ConnectOptions, Runtime } from '@skein/core';
import type { BunApi, BunListener, BunTarget } from './bun-api.js';
import { BunByteConn, socketHandlers } from './bun-byte-conn.js';
import { clearStaleSocket, removeSocketFile } from './socket-file.js';

declare const Bun: BunApi;

/** Skein's runtime contract on Bun's own sockets (`Bun.connect`, `Bun.listen`). */
export const bunRuntime: Runtime = {
  name: 'bun',
  connect,
  listen,
  // Core's: performance.now(), and intervals unref'd (Bun's timers have unref()).
  clock: systemClock,
};

function connect(address: Address, options: ConnectOptions = {}): Promise<ByteConn> {
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
    // Bun cannot abort a connect in progress: after the timeout it is abandoned, and closed if
    // it succeeds later.
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
      Bun.connect({ ...target(address), allowHalfOpen: true, socket: handlers }).catch(fail);
    } catch (err) {
      fail(err);
    }
  });
}

async function listen(address: Address, accept: (conn: ByteConn) => void): Promise<ByteListener> {
  const unix = 'path' in address;
  if (unix) await clearStaleSocket(address.path);
  const handlers = socketHandlers((socket) => {
    const remote = unix ? formatAddress(address) : formatAddress({ host: socket.remoteAddress, port: socket.remotePort });
    if (!unix) socket.setNoDelay(true);
    accept(new BunByteConn(socket, remote));
  });
  let listener: BunListener;
  try {
    // Without allowHalfOpen Bun closes both directions when the peer half-closes, dropping replies.
    listener = Bun.listen({ ...target(address), allowHalfOpen: true, socket: handlers });
  } catch (err) {
    throw new Error(`cannot listen on ${formatAddress(address)}: ${describe(err)}`, { cause: err });
  }
  let stopped = false;
  return {
    address: unix ? address : { host: address.host, port: listener.port },
    async close() {
      if (stopped) return;
      stopped = true;
      // Leaves accepted sockets open.
      listener.stop();
      // Bun 1.4 unlinks the socket file in stop(); the contract should not hang on that.
      if (unix) await removeSocketFile(address.path);
    },
  };
}

function target(address: Address): BunTarget {
  return 'path' in address ? { unix: address.path } : { hostname: address.host, port: address.port };
}

/** Bun's connect errors say only "Failed to connect"; the code (ECONNREFUSED, ENOENT) says why. */
function describe(err: unknown): string {
  const { code, message } = err as { code?: string; message?: string };
  return [code, message].filter(Boolean).join(' ') || String(err);
}
