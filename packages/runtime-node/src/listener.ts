import net from 'node:net';
import { clearStaleSocket, formatAddress, listenFailed, type Address, type ByteConn, type ByteListener } from '@skein/core';
import { NodeByteConn } from './byte-conn.js';
import { isTcp, netTarget, remoteOf } from './socket-address.js';
import { socketFiles } from './socket-file.js';

/** Listens on a TCP address (port 0: any free port) or a Unix socket path. */
export async function listen(address: Address, accept: (conn: ByteConn) => void): Promise<ByteListener> {
  if ('path' in address) await clearStaleSocket(address.path, socketFiles);
  // pauseOnConnect: an accepted socket reads nothing until its ByteConn is bound.
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
    if (isTcp(address)) socket.setNoDelay(true);
    accept(new NodeByteConn(socket, remoteOf(socket, address)));
  });
  await startListening(server, address);
  // A failed accept (EMFILE, ...) costs that one connection; the server keeps listening.
  server.on('error', () => {});
  return new NodeByteListener(server, boundAddress(server, address));
}

function startListening(server: net.Server, address: Address): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: Error): void => reject(listenFailed(formatAddress(address), err.message, err));
    server.once('error', failed);
    server.listen(netTarget(address), () => {
      server.off('error', failed);
      resolve();
    });
  });
}

function boundAddress(server: net.Server, asked: Address): Address {
  const info = server.address();
  if ('path' in asked || info === null || typeof info === 'string') return asked;
  return { host: info.address, port: info.port };
}

class NodeByteListener implements ByteListener {
  private closing: Promise<void> | undefined;

  constructor(
    private readonly server: net.Server,
    readonly address: Address,
  ) {}

  close(): Promise<void> {
    this.closing ??= this.closeServer();
    return this.closing;
  }

  private async closeServer(): Promise<void> {
    // server.close's own callback waits for every accepted connection to end, which the
    // contract leaves alone, so it is not waited on. libuv closes the listening fd (and unlinks
    // a Unix socket file) inside close() itself; the handle object is released in the loop's
    // close phase, which runs after the check phase that a first setImmediate lands in, and
    // before the check phase of the next turn, where the second one lands.
    this.server.close();
    await nextCheckPhase();
    await nextCheckPhase();
  }
}

const nextCheckPhase = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
