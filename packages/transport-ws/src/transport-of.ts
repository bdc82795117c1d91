import { CertificateExpiryWatch, DEFAULT_CONNECT_TIMEOUT_MS, addressFor, formatAddress, TransportTls, guardedLogger, warnOfClientCertificate, type Address, type FrameConn, type FrameListener, type FrameSpec, type Logger, type ReloadableTransport, type TlsOptions } from '@skein/core';
import type { ResolvedOptions } from './options.js';
import { wsClientTls } from './tls.js';
import { connectClient } from './ws-client.js';
import { loadClientPairOnce } from './wss-handshake.js';

/** A listener that can change its TLS certificate (a wss server); without `reloadTls` it cannot. */
export interface ReloadableListener extends FrameListener {
  reloadTls?(tls: TlsOptions): Promise<void>;
}

/**
 * A server on `address` serving `tls` (the transport's options when the listen was called: a
 * reload applied while it opens is given to it after), writing its lines (TLS refusals, a hook
 * that threw, an accept that threw, a full budget) to `logger`.
 */
export type Listen = (address: Address, spec: FrameSpec, accept: (conn: FrameConn) => void, tls: TlsOptions | undefined, logger: Logger) => Promise<ReloadableListener>;

/** A Transport whose client is the shared WebSocket client and whose server is `listen`. */
export function transportOf(name: string, options: ResolvedOptions, listen: Listen): ReloadableTransport {
  // Its options in `options.tls`, where its clients and servers read them; a reload's pair is
  // loaded as the client's (wsClientTls), at once, unless open listeners load it themselves.
  const tls = new TransportTls(options, {
    loadPair: (pair) => loadClientPairOnce(pair, wsClientTls(pair)),
    cannotChange: `the ${name} server cannot change its certificate while listening`,
  });
  const transport: ReloadableTransport = {
    name,
    // Async, and the address checked first: a malformed one rejects with InvalidArgument, never a
    // URL's SyntaxError (thrown before the promise, by the standard WebSocket's constructor).
    async connect(address, spec, o) {
      // A tcp:// address is the TCP transport's: refused, not dialled as ws://. tls:// is wss://.
      const at = addressFor('ws', address, `${name}Transport`);
      // A client certificate (mTLS) near its date is warned of through the client's logger, else
      // the transport's own: once per options object (core's warnOfClientCertificate), not per connect.
      warnOfClientCertificate(options.tls, o?.logger ?? options.logger);
      return connectClient(at, spec, options, o?.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, o?.signal);
    },
    async listen(address, spec, accept, o) {
      const listenedWith = options.tls;
      // The server's logger (RpcServer passes the one you gave it), else the transport's own.
      const logger = o?.logger === undefined ? options.logger : guardedLogger(o.logger);
      const l = await listen(addressFor('ws', address, `${name}Transport`), spec, accept, listenedWith, logger);
      // What its connections carry at most (FrameConn.maxFrameBytes): a server warns of limits over it.
      const maxFrameBytes = options.maxWsMessageBytes;
      if (listenedWith === undefined) return { ...l, maxFrameBytes };
      // A reload applied while it opened is given to it before it resolves; it is closed and the
      // listen refused if it cannot take it.
      await tls.listening(l, new CertificateExpiryWatch(formatAddress(l.address), logger), listenedWith);
      return { address: l.address, tls: true, maxFrameBytes, close: () => (tls.closed(l), l.close()) };
    },
    reloadTls: (next) => tls.reload(next),
    tlsGeneration: () => tls.generation,
  };
  return transport;
}
