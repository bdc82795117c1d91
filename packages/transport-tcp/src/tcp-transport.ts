import { CertificateExpiryWatch, addressFor, checkFrameSpec, formatAddress, type Address, type FrameConn, type FrameListener, type FrameSpec, type ReloadableTransport, type Runtime, type TransportConnectOptions, type TransportListenOptions } from '@skein/core';
import { byteStreamFraming } from './byte-stream-framing.js';
import { TlsSettings } from './tls-settings.js';
import { checkTcpTransportArgs, type TcpTransportOptions } from './tcp-options.js';

/**
 * Frames over TCP or Unix sockets, on any runtime. `listen`'s accept callback must bind the
 * connection before it returns: until bound, its bytes wait in the runtime (nothing is lost),
 * but nothing watches it either. Throws InvalidArgument when `runtime` is no Runtime, and on an
 * options value that is no object or names an unknown option.
 */
export function tcpTransport(runtime: Runtime, options: TcpTransportOptions = {}): ReloadableTransport {
  // Plain JS: no runtime, or an unknown option, is InvalidArgument naming it, not a TypeError or the defaults.
  checkTcpTransportArgs(runtime, options);
  const framing = byteStreamFraming(options, runtime.clock);
  const tls = new TlsSettings(options.tls, runtime);
  const transport: ReloadableTransport = {
    name: 'tcp',
    async connect(address: Address, spec: FrameSpec, opts: TransportConnectOptions = {}): Promise<FrameConn> {
      checkFrameSpec(spec);
      // A malformed Address object is InvalidArgument here, not the socket API's RangeError (or a
      // dial of localhost for an empty host): the contract's words for a bad address. So is a
      // ws:// one, which would otherwise be dialled as plain TCP.
      addressFor('tcp', address, 'tcpTransport');
      const secure = tls.forConnect(address, opts.logger);
      const conn = await runtime.connect(address, { ...(opts.timeoutMs !== undefined && { timeoutMs: opts.timeoutMs }), ...(opts.signal && { signal: opts.signal }), ...(secure && { tls: secure }) });
      // A budget of its own: shared, a server that stalls mid-frame would fail the connections to others.
      return framing.conn(conn, spec, { budget: framing.budget(), dialled: secure === undefined ? 'plain' : 'tls' });
    },
    async listen(address: Address, spec: FrameSpec, accept: (conn: FrameConn) => void, opts: TransportListenOptions = {}): Promise<FrameListener> {
      checkFrameSpec(spec);
      addressFor('tcp', address, 'tcpTransport');
      const budget = framing.budget();
      const secure = tls.forListen(address);
      // Read per connection from the settings a reload keeps (it changes certificates, never requestCert).
      const listener = await runtime.listen(address, (conn) => accept(framing.conn(conn, spec, { budget, identityPending: secure !== undefined && tls.requestsCerts() && conn.identity === undefined })), secure && { tls: secure });
      // Given a reload applied while it opened; closed if it cannot take it.
      if (secure) await tls.listening(listener, new CertificateExpiryWatch(formatAddress(listener.address), opts.logger, runtime.clock), secure);
      // The largest frame its connections carry (FrameConn.maxFrameBytes): a server warns of limits over it.
      const cap = budget.max === Infinity ? undefined : { maxFrameBytes: budget.max };
      const frameListener: FrameListener = { address: listener.address, ...(secure && { tls: true }), ...cap, close: () => (tls.closed(listener), listener.close()) };
      return frameListener;
    },
    reloadTls: (next) => tls.reload(next),
    tlsGeneration: () => tls.generation,
  };
  return transport;
}
