import { clearStaleSocket, formatAddress, invalidArgument, listenFailed, reloadedTlsOptions, unusableTls, type Address, type ByteConn, type ByteListener, type ListenOptions, type ResolvedTls, type TlsOptions } from '@skein/core';
import { DenoByteConn } from './byte-conn.js';
import { HandshakeHolds } from './handshake-holds.js';
import type { DenoApi, DenoConn, DenoListener } from './native-api.js';
import { denoTarget, describe, remoteOf } from './socket-address.js';
import { socketFiles } from './socket-file.js';
import { denoListenTls, denoReloadTls, listenOptions } from './tls.js';

declare const Deno: DenoApi;

/**
 * Deno's accept errors for one connection already gone when its turn came (it asks the socket
 * for its peer's address, which a reset one no longer has): each took that connection from
 * the backlog.
 */
const PEER_GONE = new Set(['NotConnected', 'ConnectionReset', 'ConnectionAborted']);

/** A TLS listener's options as given, and as checked. */
interface ListenerTls {
  given: TlsOptions;
  settings: ResolvedTls;
}

/** Listens on a TCP address (port 0: any free port) or a Unix socket path, accepting in a loop; with TLS when asked (TCP only). */
export async function listen(address: Address, accept: (conn: ByteConn) => void, options: ListenOptions = {}): Promise<ByteListener> {
  // What Deno's TLS cannot do throws InvalidArgument here, before anything is bound.
  const tls: ListenerTls | undefined = options.tls === undefined ? undefined : { given: options.tls, settings: denoListenTls(address, options.tls) };
  if ('path' in address) await clearStaleSocket(address.path, socketFiles);
  const listener = open(address, tls?.settings);
  const bound = 'path' in address || listener.addr.transport !== 'tcp' ? address : { host: address.host, port: listener.addr.port };
  return new DenoByteListener(listener, bound, accept, tls);
}

function open(address: Address, tls: ResolvedTls | undefined): DenoListener {
  try {
    return tls && !('path' in address) ? Deno.listenTls(listenOptions(address, tls)) : Deno.listen(denoTarget(address));
  } catch (err) {
    // rustls would not load the certificate, key or CA (InvalidData: a damaged key), as connect.ts
    // tells it; anything else (the OS, a permission) is the listen's failure.
    const why = describe(err);
    if (tls && (err as Error)?.name === 'InvalidData') throw unusableTls(why, err);
    throw listenFailed(formatAddress(address), why, err);
  }
}

class DenoByteListener implements ByteListener {
  private closed = false;
  private accepting: Promise<void>;
  private closing: Promise<void> | undefined;
  /** The reloads called so far, settled or not: the next one waits for them. */
  private reloads: Promise<void> = Promise.resolve();
  /** Connections closed before their TLS handshake settled, reported closed only once Deno lets their sockets go. */
  private readonly holds = new HandshakeHolds();

  constructor(
    private listener: DenoListener,
    readonly address: Address,
    private readonly accept: (conn: ByteConn) => void,
    private readonly tls: ListenerTls | undefined,
  ) {
    this.accepting = this.acceptLoop(listener);
  }

  /**
   * Deno.listenTls cannot change its certificate: the listener is opened again on the same
   * address with the new one. Accepted connections stay; a connect in the instant between the
   * two is refused (clients retry). Reloads run one after the other, in call order, so the last
   * one called is what is served, as on Node, and each starts from the one before.
   */
  reloadTls(next: TlsOptions): Promise<void> {
    const reload = this.reloads.then(() => this.reopen(next));
    this.reloads = reload.catch(() => {});
    return reload;
  }

  private async reopen(next: TlsOptions): Promise<void> {
    if (!this.tls) throw invalidArgument(`the listener on ${formatAddress(this.address)} is not a TLS listener`);
    if (this.closing) throw invalidArgument(`the listener on ${formatAddress(this.address)} is closed`);
    const given = reloadedTlsOptions(this.tls.given, next);
    // Loaded before the listener is closed: a certificate that does not load leaves it serving.
    const settings = denoReloadTls(this.tls.given, next, (this.address as { host: string }).host);
    this.listener.close();
    await this.accepting;
    // close() came while the old accept loop wound down: opening again would leave a listener
    // nobody closes, accepting after close() returned.
    if (this.closed) throw invalidArgument(`the listener on ${formatAddress(this.address)} is closed`);
    try {
      this.listener = open(this.address, settings);
      this.tls.settings = settings;
      // Kept: the next reload starts from this one's certificate, not the first listen's.
      this.tls.given = given;
    } catch (err) {
      this.listener = open(this.address, this.tls.settings);
      throw err;
    } finally {
      this.accepting = this.acceptLoop(this.listener);
    }
  }

  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    this.closed = true;
    this.holds.releaseAll();
    try {
      this.listener.close();
    } catch {
      // Already closed by a reloadTls under way, which sees `closed` and opens nothing.
    }
    // A pending accept may hold the socket until it has rejected.
    await this.accepting;
    if ('path' in this.address) await socketFiles.remove(this.address.path).catch(() => {});
  }

  private async acceptLoop(listener: DenoListener): Promise<void> {
    for (;;) {
      let conn: DenoConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (this.closed || listener !== this.listener || (err as Error)?.name === 'BadResource') return;
        // A connection that died in the backlog took itself out of it: the next one is taken at
        // once (a pause per reset let a peer resetting 100 a second hold every other one out).
        if (PEER_GONE.has((err as Error)?.name)) continue;
        // No descriptors left, or the like: go on, without spinning.
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      if (conn.remoteAddr.transport === 'tcp') conn.setNoDelay?.(true);
      const byteConn = new DenoByteConn(conn, remoteOf(conn.remoteAddr, this.address));
      // Handed over at accept, before the handshake: the connection counts from its first byte.
      this.accept(byteConn);
      if (this.tls) byteConn.handshake(this.tls.settings.handshakeTimeoutMs, this.holds);
    }
  }
}
