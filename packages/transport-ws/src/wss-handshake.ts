import tls from 'node:tls';
import { RpcError, connectFailed, sniName, tlsCloseError, type TlsOptions } from '@skein/core';

/**
 * The TLS connect of one wss:// connect with `ws` (its `createConnection`), and how its failure
 * reads. It connects as ws does (SNI for host names only: core's sniName) and notes when the
 * handshake is done: a TLS server that refuses a client certificate after its handshake (Node's,
 * Bun's: without an alert) closes before it answers the upgrade, and only a client that knows
 * its handshake was done can read that close as the refusal it probably is, as on TCP.
 */
export class WssHandshake {
  private secured = false;

  constructor(private readonly tls: TlsOptions | undefined) {}

  readonly connect = (options: tls.ConnectionOptions & { host?: string }): tls.TLSSocket => {
    // `path` is ws's URL path, which tls.connect would take for a Unix socket (ws clears it too).
    const socket = tls.connect({ ...options, path: undefined, servername: sniName(options.host, this.tls ?? {}) ?? '' });
    socket.once('secureConnect', () => (this.secured = true));
    return socket;
  };

  /** Why the connect failed, typed as on TCP (core's tlsCloseError); anything else is Unreachable. */
  failure(url: string, err: Error): RpcError {
    const typed = tlsCloseError(url, err, false, this.secured && this.tls?.cert !== undefined);
    return typed instanceof RpcError ? typed : connectFailed(url, err.message, err);
  }
}
