import { clearStaleSocket, formatAddress, listenFailed, type Address, type ByteConn, type ByteListener } from '@skein/core';
import { BunByteConn, socketHandlers } from './byte-conn.js';
import type { BunApi, BunSocketListener } from './native-api.js';
import { bunTarget, describe, remoteOf } from './socket-address.js';
import { socketFiles } from './socket-file.js';

declare const Bun: BunApi;

/** Listens on a TCP address (port 0: any free port) or a Unix socket path. */
export async function listen(address: Address, accept: (conn: ByteConn) => void): Promise<ByteListener> {
  const unix = 'path' in address;
  if (unix) await clearStaleSocket(address.path, socketFiles);
  const handlers = socketHandlers((socket) => {
    if (!unix) socket.setNoDelay(true);
    accept(new BunByteConn(socket, remoteOf(socket, address)));
  });
  let server: BunSocketListener;
  try {
    // Without allowHalfOpen Bun closes both directions when the peer half-closes, dropping replies.
    server = Bun.listen({ ...bunTarget(address), allowHalfOpen: true, socket: handlers });
  } catch (err) {
    throw listenFailed(formatAddress(address), describe(err), err);
  }
  return new BunByteListener(server, unix ? address : { host: address.host, port: server.port });
}

class BunByteListener implements ByteListener {
  private closing: Promise<void> | undefined;

  constructor(
    private readonly server: BunSocketListener,
    readonly address: Address,
  ) {}

  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    // Leaves accepted sockets open.
    this.server.stop();
    // Bun 1.4 unlinks the socket file in stop(); the contract should not hang on that, nor fail.
    if ('path' in this.address) await socketFiles.remove(this.address.path).catch(() => {});
  }
}
