import { clearStaleSocket, formatAddress, listenFailed, type Address, type ByteConn, type ByteListener } from '@skein/core';
import { DenoByteConn } from './byte-conn.js';
import type { DenoApi, DenoConn, DenoListener } from './native-api.js';
import { denoTarget, describe, remoteOf } from './socket-address.js';
import { socketFiles } from './socket-file.js';

declare const Deno: DenoApi;

/** Listens on a TCP address (port 0: any free port) or a Unix socket path, accepting in a loop. */
export async function listen(address: Address, accept: (conn: ByteConn) => void): Promise<ByteListener> {
  if ('path' in address) await clearStaleSocket(address.path, socketFiles);
  let listener: DenoListener;
  try {
    listener = Deno.listen(denoTarget(address));
  } catch (err) {
    throw listenFailed(formatAddress(address), describe(err), err);
  }
  const bound = 'path' in address || listener.addr.transport !== 'tcp' ? address : { host: address.host, port: listener.addr.port };
  return new DenoByteListener(listener, bound, accept);
}

class DenoByteListener implements ByteListener {
  private closed = false;
  private readonly accepting: Promise<void>;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly listener: DenoListener,
    readonly address: Address,
    accept: (conn: ByteConn) => void,
  ) {
    this.accepting = this.acceptLoop(accept);
  }

  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    this.closed = true;
    this.listener.close();
    // A pending accept may hold the socket until it has rejected.
    await this.accepting;
    if ('path' in this.address) await socketFiles.remove(this.address.path).catch(() => {});
  }

  private async acceptLoop(accept: (conn: ByteConn) => void): Promise<void> {
    for (;;) {
      let conn: DenoConn;
      try {
        conn = await this.listener.accept();
      } catch (err) {
        if (this.closed || (err as Error)?.name === 'BadResource') return;
        // A connection that died in the backlog, or no descriptors left: go on, without spinning.
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      if (conn.remoteAddr.transport === 'tcp') conn.setNoDelay?.(true);
      accept(new DenoByteConn(conn, remoteOf(conn.remoteAddr, this.address)));
    }
  }
}
