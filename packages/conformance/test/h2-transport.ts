import http2 from 'node:http2';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  addressFor,
  checkFrameSpec,
  connectAborted,
  connectFailed,
  connectTimerMs,
  formatAddress,
  invalidArgument,
  listenFailed,
  whenAborted,
  type Address,
  type FrameConn,
  type FrameListener,
  type FrameSpec,
  type Transport,
  type TransportConnectOptions,
} from '@skein/core';
import { byteStreamFraming, type ByteStreamFramingOptions } from '@skein/transport-tcp';
import { H2ByteConn } from './h2-byte-conn.js';

const PATH = '/skein';

/**
 * A third party's transport over a byte stream that is no Runtime's: Skein over cleartext
 * HTTP/2, each connection one POST stream of a session of its own. Its framing is
 * @skein/transport-tcp's authors' export alone (`byteStreamFraming`): what it writes is the
 * ByteConn (h2-byte-conn.ts) and the dialling and listening.
 */
export function h2Transport(options?: ByteStreamFramingOptions): Transport {
  const framing = byteStreamFraming(options);

  async function connect(address: Address, spec: FrameSpec, opts: TransportConnectOptions = {}): Promise<FrameConn> {
    checkFrameSpec(spec);
    const { host, port } = hostPort(address);
    const where = formatAddress(address);
    const signal = opts.signal;
    if (signal?.aborted) throw connectAborted(where, signal.reason);
    return new Promise<FrameConn>((resolve, reject) => {
      const session = http2.connect(`http://${host.includes(':') ? `[${host}]` : host}:${port}`);
      // The session's errors after the connect settled are its stream's close, not the process's.
      session.on('error', () => {});
      const stream = session.request({ ':method': 'POST', ':path': PATH }, { endStream: false });
      stream.on('error', () => {});
      let settled = false;
      const settle = (err: Error | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unhook();
        if (err === undefined) {
          resolve(framing.conn(new H2ByteConn(where, stream, session), spec, { budget: framing.budget(), dialled: 'plain' }));
        } else {
          session.destroy();
          reject(err);
        }
      };
      const timer = setTimeout(() => settle(connectFailed(where, `no answer within ${opts.timeoutMs} ms`)), connectTimerMs(opts.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS));
      const unhook = whenAborted(signal, () => settle(connectAborted(where, signal!.reason)));
      session.once('error', (err) => settle(connectFailed(where, err.message, err)));
      stream.once('response', (headers) => settle(headers[':status'] === 200 ? undefined : connectFailed(where, `answered ${headers[':status']}`)));
      stream.once('close', () => settle(connectFailed(where, 'the stream closed before its answer')));
    });
  }

  async function listen(address: Address, spec: FrameSpec, accept: (conn: FrameConn) => void): Promise<FrameListener> {
    checkFrameSpec(spec);
    const { host, port } = hostPort(address);
    // One budget for the listener's connections: many peers stalled mid-frame hold it once.
    const budget = framing.budget();
    const server = http2.createServer();
    server.on('session', (session) => session.on('error', () => {}));
    server.on('stream', (stream, headers) => {
      if (headers[':path'] !== PATH || headers[':method'] !== 'POST') return void stream.respond({ ':status': 404 }, { endStream: true });
      stream.respond({ ':status': 200 });
      const socket = stream.session?.socket;
      accept(framing.conn(new H2ByteConn(`${socket?.remoteAddress}:${socket?.remotePort}`, stream, stream.session!), spec, { budget }));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(listenFailed(formatAddress(address), err.message, err)));
      server.listen(port, host, () => resolve());
    });
    const bound = server.address();
    return {
      address: { host, port: typeof bound === 'object' && bound !== null ? bound.port : port },
      // Stops accepting, without waiting for the sessions open: they are the connections', closed with them.
      close: async () => void server.close(),
    };
  }

  return { name: 'h2', connect, listen };
}

/**
 * Where to dial or listen: core's `addressFor` refuses an address written for another
 * transport (`ws://h:1`), as every transport must; and this one has no TLS, so `tls://h:1` is
 * refused too, never dialled as cleartext.
 */
function hostPort(address: Address): { host: string; port: number } {
  const at = addressFor('tcp', address, 'h2Transport');
  if ('path' in at) throw invalidArgument(`the h2 transport has no Unix sockets: ${at.path}`);
  if (at.tls) throw invalidArgument(`the h2 transport has no TLS: ${formatAddress(at)}`);
  return at;
}
