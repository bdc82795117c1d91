import net from 'node:net';
import { clearStaleSocket, formatAddress, invalidArgument, listenFailed, type Address, type ByteConn, type ByteListener, type ListenOptions, type TlsOptions } from '@skein/core';
import { NodeByteConn } from './byte-conn.js';
import { holdPeerName, isTcp, netTarget, remoteOf } from './socket-address.js';
import { socketFiles } from './socket-file.js';
import { acceptTls, reloadServerTls, serverTls, type ServerTls } from './tls.js';

/**
 * Listens on a TCP address (port 0: any free port) or a Unix socket path; or, given `inherited`
 * (a listening socket another process handed over, see handover.ts), on that socket. With TLS
 * when `options.tls` asks.
 */
export async function listen(
  address: Address,
  accept: (conn: ByteConn) => void,
  options: ListenOptions = {},
  inherited?: net.Server,
): Promise<NodeByteListener> {
  // Checked (and the certificate loaded) before anything is bound: a mistake throws InvalidArgument.
  const secure = options.tls === undefined ? undefined : { current: serverTls(options.tls) };
  if ('path' in address && !inherited) await clearStaleSocket(address.path, socketFiles);
  // pauseOnConnect: an accepted socket reads nothing until its ByteConn is bound.
  // A Unix peer is shown by the listener's path: one string for all of them.
  const unixRemote = isTcp(address) ? undefined : formatAddress(address);
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
    if (isTcp(address)) socket.setNoDelay(true);
    if (secure) return accept(new NodeByteConn(acceptTls(socket, secure.current), remoteOf(socket, address), 'accepted'));
    // Plain TCP: the peer's name is formatted on first use (a TLS socket reads it through its own handle).
    if (unixRemote === undefined) holdPeerName(socket);
    accept(new NodeByteConn(socket, unixRemote));
  });
  await startListening(server, address, inherited);
  // A failed accept (EMFILE, ...) costs that one connection; the server keeps listening.
  server.on('error', () => {});
  return new NodeByteListener(server, boundAddress(server, address), secure);
}

function startListening(server: net.Server, address: Address, inherited: net.Server | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: Error): void => reject(listenFailed(formatAddress(address), err.message, err));
    server.once('error', failed);
    server.listen(inherited ?? netTarget(address), () => {
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

export class NodeByteListener implements ByteListener {
  private closing: Promise<void> | undefined;

  constructor(
    /** Read by handover.ts, to hand the socket to another process. */
    readonly server: net.Server,
    readonly address: Address,
    private readonly secure: { current: ServerTls } | undefined,
  ) {}

  async reloadTls(tls: TlsOptions): Promise<void> {
    if (!this.secure) throw invalidArgument(`the listener on ${formatAddress(this.address)} is not a TLS listener`);
    this.secure.current = reloadServerTls(this.secure.current, tls);
  }

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
