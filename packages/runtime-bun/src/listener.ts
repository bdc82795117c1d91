import { clearStaleSocket, formatAddress, invalidArgument, listenFailed, reloadedTlsOptions, type Address, type ByteConn, type ByteListener, type ListenOptions, type ResolvedTls, type TlsOptions } from '@skein/core';
import { BunByteConn, socketHandlers } from './byte-conn.js';
import type { BunApi, BunSocketListener } from './native-api.js';
import { bunTarget, describe, remoteOf } from './socket-address.js';
import { socketFiles } from './socket-file.js';
import { TlsState, bunTls, loadedListenTls, resolveListenTls, tlsLoadFailure } from './tls.js';

declare const Bun: BunApi;

/** Listens on a TCP address (port 0: any free port) or a Unix socket path, with TLS when asked. */
export async function listen(address: Address, accept: (conn: ByteConn) => void, options: ListenOptions = {}): Promise<ByteListener> {
  const tls = options.tls === undefined ? undefined : { given: options.tls, settings: resolveListenTls(options.tls) };
  const unix = 'path' in address;
  if (unix) await clearStaleSocket(address.path, socketFiles);
  // Accepted at TCP accept, before the handshake: a connection counts from its first byte. The
  // TLS settings are read per connection, so a reload reaches the connections after it.
  const handlers = socketHandlers((socket) => {
    if (!unix) socket.setNoDelay(true);
    accept(new BunByteConn(socket, remoteOf(socket, address), tls && { state: new TlsState(tls.settings), side: 'server' }));
  });
  const open = (at: Address): BunSocketListener => {
    try {
      // Without allowHalfOpen Bun closes both directions when the peer half-closes, dropping replies.
      return Bun.listen({ ...bunTarget(at), allowHalfOpen: true, socket: handlers, ...(tls && { tls: bunTls(tls.settings, 'listen') }) });
    } catch (err) {
      throw (tls && tlsLoadFailure(err)) || listenFailed(formatAddress(at), describe(err), err);
    }
  };
  const server = open(address);
  return new BunByteListener(server, unix ? address : { host: address.host, port: server.port }, open, tls);
}

class BunByteListener implements ByteListener {
  private closing: Promise<void> | undefined;

  constructor(
    private server: BunSocketListener,
    readonly address: Address,
    private readonly open: (at: Address) => BunSocketListener,
    private readonly tls: { given: TlsOptions; settings: ResolvedTls } | undefined,
  ) {}

  /**
   * Bun cannot change a listening socket's certificate: the listener is opened again on the same
   * address with the new one. Accepted connections stay; a connect in the instant between the
   * two is refused (clients retry). Synchronous from the first check to the reopen, so reloads
   * called at once run one after the other, in call order.
   */
  async reloadTls(next: TlsOptions): Promise<void> {
    if (!this.tls) throw invalidArgument(`the listener on ${formatAddress(this.address)} is not a TLS listener`);
    if (this.closing) throw invalidArgument(`the listener on ${formatAddress(this.address)} is closed`);
    const given = reloadedTlsOptions(this.tls.given, next);
    // Loaded before the listener is stopped: a certificate that does not load leaves it serving.
    // (A Unix listener's certificate is tried on loopback TCP: loading it does not depend on the address.)
    const settings = loadedListenTls(given, 'path' in this.address ? '127.0.0.1' : this.address.host);
    const previous = this.tls.settings;
    this.tls.settings = settings;
    this.server.stop();
    try {
      this.server = this.open(this.address);
    } catch (err) {
      this.tls.settings = previous;
      this.server = this.open(this.address);
      throw err;
    }
    // Kept: the next reload starts from this one's certificate, not the first listen's.
    this.tls.given = given;
  }

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
