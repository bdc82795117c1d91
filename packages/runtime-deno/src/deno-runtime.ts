import { DEFAULT_CONNECT_TIMEOUT_MS, connectFailed, connectTimerMs, formatAddress, systemClock } from '@skein/core';
import type { Address, ByteConn, ByteListener, ConnectOptions, Runtime } from '@skein/core';
import type { DenoApi, DenoConn, DenoListener } from './deno-api.js';
import { DenoByteConn } from './deno-byte-conn.js';
import { clearStaleSocket, removeSocketFile } from './socket-file.js';

declare const Deno: DenoApi;

/** Skein's runtime contract on Deno's own sockets (`Deno.connect`, `Deno.listen`). */
export const denoRuntime: Runtime = {
  name: 'deno',
  connect,
  listen,
  // Core's: performance.now(), and intervals unref'd (Deno.unrefTimer, or unref() on the
  // Node-style timer objects Deno 2.9 returns).
  clock: systemClock,
};

async function connect(address: Address, options: ConnectOptions = {}): Promise<ByteConn> {
  const remote = formatAddress(address);
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), connectTimerMs(timeoutMs));
  try {
    const pending =
      'path' in address
        ? Deno.connect({ transport: 'unix', path: address.path })
        : Deno.connect({ transport: 'tcp', hostname: address.host, port: address.port, signal: abort.signal });
    const conn = await abortable(pending, abort.signal);
    if (!('path' in address)) conn.setNoDelay?.(options.noDelay ?? true);
    return new DenoByteConn(conn, remote);
  } catch (err) {
    // A missing --allow-net is the program's fault, not the network's: no other node would do.
    if ((err as Error)?.name === 'NotCapable') throw err;
    const why = abort.signal.aborted ? `no connection after ${timeoutMs} ms` : `${(err as Error)?.name}: ${(err as Error)?.message}`;
    throw connectFailed(remote, why, err);
  } finally {
    clearTimeout(timer);
  }
}

/** Rejects when `signal` aborts first (a Unix connect takes no signal); a late connection is closed. */
function abortable(pending: Promise<DenoConn>, signal: AbortSignal): Promise<DenoConn> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason);
      pending.then((conn) => conn.close(), () => {});
    };
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

async function listen(address: Address, accept: (conn: ByteConn) => void): Promise<ByteListener> {
  const unix = 'path' in address;
  if (unix) await clearStaleSocket(address.path);
  let listener: DenoListener;
  try {
    listener = Deno.listen(unix ? { transport: 'unix', path: address.path } : { transport: 'tcp', hostname: address.host, port: address.port });
  } catch (err) {
    throw new Error(`cannot listen on ${formatAddress(address)}: ${(err as Error)?.name}: ${(err as Error)?.message}`, { cause: err });
  }
  let closed = false;
  const accepting = acceptLoop(listener, address, accept, () => closed);
  const bound = unix || listener.addr.transport !== 'tcp' ? address : { host: address.host, port: listener.addr.port };
  return {
    address: bound,
    async close() {
      if (closed) return;
      closed = true;
      listener.close();
      // A pending accept may hold the socket until it has rejected.
      await accepting;
      if (unix) await removeSocketFile(address.path);
    },
  };
}

async function acceptLoop(listener: DenoListener, address: Address, accept: (conn: ByteConn) => void, closed: () => boolean): Promise<void> {
  for (;;) {
    let conn: DenoConn;
    try {
      conn = await listener.accept();
    } catch (err) {
      if (closed() || (err as Error)?.name === 'BadResource') return;
      // A connection that died in the backlog, or no descriptors left: go on, without spinning.
      await new Promise((resolve) => setTimeout(resolve, 10));
      continue;
    }
    const peer = conn.remoteAddr;
    if (peer.transport === 'tcp') conn.setNoDelay?.(true);
    const remote = peer.transport === 'tcp' ? formatAddress({ host: peer.hostname, port: peer.port }) : formatAddress(address);
    accept(new DenoByteConn(conn, remote));
  }
}
