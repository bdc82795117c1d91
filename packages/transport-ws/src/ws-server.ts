import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { ErrorCode, FrameError, RpcError, formatAddress, listenFailed, reloadedTls, reloadedTlsOptions, resolveTls, type Address, type FrameConn, type FrameListener, type FrameSpec, type ResolvedTls, type TlsOptions } from '@skein/core';
import { WebSocketServer } from 'ws';
import { AcceptedSocket } from './accepted-socket.js';
import { checkServerTls, httpsServers } from './https-servers.js';
import { Keepalive } from './keepalive.js';
import { PendingMessages } from './pending-messages.js';
import { pathnameOf, type ResolvedOptions } from './options.js';
import { decide, REFUSAL } from './upgrade-hook.js';
import { httpsServerTls, identityOfRequest, loadingTls, secureFor } from './tls.js';
import type { ReloadableListener } from './transport-of.js';
import { WS_RECEIVE_LIMITS } from './ws-socket.js';
import { TlsRefusalLines } from './tls-refusal-lines.js';

/**
 * A Skein endpoint on a `ws` WebSocketServer attached (noServer) to its own HTTP server, so the
 * upgrade can be routed by path and refused by the hook before ws ever sees it. The listening
 * socket is our own: each accepted socket is handed to `accept` first (accepted-socket.ts), and
 * only one the server keeps goes on to the HTTP(S) server, for its TLS handshake and upgrade.
 */
export async function listenWs(
  address: Address,
  spec: FrameSpec,
  accept: (conn: FrameConn) => void,
  options: ResolvedOptions,
): Promise<ReloadableListener> {
  // Checked before anything is bound: a TLS mistake throws InvalidArgument.
  const given: TlsOptions | undefined = secureFor(address, options.tls) ? (options.tls ?? {}) : undefined;
  const secure = given && resolveTls(given, 'listen');
  if (secure) checkServerTls(secure);
  const answer = (req: http.IncomingMessage, res: http.ServerResponse): void => answerPlainRequest(req, res, options.pathname);
  // Never listen themselves: they are given the sockets the server kept (the documented
  // 'connection' injection), `tls` first on wss (the https server itself on Node: https-servers.ts).
  // rejectUnauthorized: OpenSSL refuses a missing client certificate in the handshake, with an
  // alert the client reads; one that does not verify is closed as the handshake ends
  // (refuseUnverified logs why).
  const servers = secure ? loadingTls(() => httpsServers(secure, answer)) : undefined;
  const server = servers?.http ?? http.createServer(answer);
  const l: WsListening = {
    spec,
    accept,
    options,
    secure: secure !== undefined,
    tls: given,
    entry: servers?.tls ?? server,
    waiting: new WeakMap(),
    wss: wsServer(options),
    keepalive: new Keepalive(options.pingIntervalMs),
    pending: new PendingMessages(options.maxPendingMessageBytes),
  };
  const lines = new TlsRefusalLines(options.logger);
  if (servers && secure) {
    refuseUnverified(servers.tls, secure, lines, (socket, err) => l.waiting.get(tcpSocketOf(socket))?.refused(err));
    servers.tls.on('secureConnection', (socket: tls.TLSSocket) => l.waiting.get(tcpSocketOf(socket))?.secured(socket));
  }
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => onUpgrade(l, req, socket, head));
  server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => onClientError(l, err, socket));
  // pauseOnConnect: nothing is read before the server has kept the connection.
  const tcp = net.createServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: true }, (raw) => onAccepted(l, raw));
  // A failed accept (EMFILE, ...) costs that one connection; the server keeps listening.
  await listenOn(tcp, address);
  tcp.on('error', () => {});
  const reload = servers && { reloadTls: (next: TlsOptions) => reloadTls(l, servers.tls, next) };
  return { address: boundAddress(tcp, address), close: () => closeServer(tcp, l.wss, lines), ...reload };
}

/** What a ws listener's accepts and upgrades share. */
interface WsListening {
  readonly spec: FrameSpec;
  readonly accept: (conn: FrameConn) => void;
  readonly options: ResolvedOptions;
  readonly secure: boolean;
  /** The TLS options served now (a reload replaces them); undefined on plain HTTP. */
  tls: TlsOptions | undefined;
  /** The server accepted sockets go to: the TLS server on wss, else the HTTP server. */
  readonly entry: { emit(event: 'connection', socket: net.Socket): boolean };
  /** Each accepted socket not yet upgraded, by the TCP socket beneath it. */
  readonly waiting: WeakMap<Duplex, AcceptedSocket>;
  readonly wss: WebSocketServer;
  readonly keepalive: Keepalive;
  /** What messages still arriving hold on its connections (maxPendingMessageBytes). */
  readonly pending: PendingMessages;
}

function wsServer(options: ResolvedOptions): WebSocketServer {
  return new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: options.maxWsMessageBytes,
    ...WS_RECEIVE_LIMITS,
    clientTracking: false,
  });
}

function onAccepted(l: WsListening, raw: net.Socket): void {
  const s = handOver(l, raw);
  // Refused: closed before any TLS or HTTP work.
  if (s === undefined) return;
  l.waiting.set(raw, s);
  s.startClock();
  // Half-open allowed, a TLSSocket takes a peer's FIN before the handshake for a half-close and
  // waits: a peer that left early held its place until upgradeTimeoutMs. Allowed again once
  // secured (AcceptedSocket.secured), as before.
  if (l.secure) raw.allowHalfOpen = false;
  l.entry.emit('connection', raw);
  // pauseOnConnect left it paused: the HTTP parser needs it flowing. (A TLSSocket reads the
  // handle beneath itself; resuming the wrapped socket too would give it two readers.)
  if (!l.secure) raw.resume();
}

/** Hands `raw` to the server; undefined when the server refused it (its connection cap, say). */
function handOver(l: WsListening, raw: net.Socket): AcceptedSocket | undefined {
  const s = new AcceptedSocket(raw, remoteOf(raw), l.spec, l.options, l.pending);
  // What the TLS server asks for: a reload changes certificates only (see reloadTls).
  s.conn.identityPending = l.tls?.requestCert === true;
  try {
    l.accept(s.conn);
  } catch (err) {
    l.options.logger.error({ err, remote: s.conn.remote }, 'accept threw; closing the connection');
    s.conn.fail(err);
  }
  return raw.destroyed ? undefined : s;
}

function onUpgrade(l: WsListening, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
  const s = l.waiting.get(tcpSocketOf(socket));
  if (s === undefined) return void socket.destroy();
  void upgrade(req, socket, l.options, () =>
    l.wss.handleUpgrade(req, socket, head, (ws) => {
      // Upgraded: from now on ws drives it, and nothing here needs to find it again.
      l.waiting.delete(tcpSocketOf(socket));
      if (l.secure) s.conn.identity = identityOfRequest(req.socket);
      l.keepalive.add(ws, s.conn);
      s.upgraded(ws, socket);
    }),
  );
}

/**
 * A request the HTTP server refused (header fields over its limit, bytes that are not HTTP, its
 * own request timeout): answered as Node's own handler does (431, 400, 408) and closed, with the
 * reason given to the connection. Left to Node's handler, such a connection reported a clean close.
 */
function onClientError(l: WsListening, err: Error & { code?: string }, socket: Duplex): void {
  const refusal = refusalOf(err);
  const s = socket as net.Socket;
  // One answered already (a plain request answered 404, then bytes that are not HTTP): that answer
  // was its refusal, and the bytes after it are not why it closed.
  if (refusal !== undefined && s.bytesWritten === 0) {
    l.waiting.get(tcpSocketOf(socket))?.refused(refusal.error);
    if (s.writable) s.write(`HTTP/1.1 ${refusal.status}\r\nConnection: close\r\n\r\n`);
  }
  socket.destroy();
}

/** The answer to a request the HTTP server refused, and the typed reason; undefined for a socket error (a reset). */
function refusalOf(err: Error & { code?: string }): { status: string; error: Error } | undefined {
  const code = err.code ?? '';
  if (code === 'HPE_HEADER_OVERFLOW') {
    const error = new RpcError(ErrorCode.FrameTooLarge, `upgrade request refused (431): its header fields are over the HTTP server's ${http.maxHeaderSize} bytes`, { cause: err });
    return { status: '431 Request Header Fields Too Large', error };
  }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: '408 Request Timeout', error: new RpcError(ErrorCode.Timeout, 'upgrade request refused (408): not received within the HTTP server\'s request timeout', { cause: err }) };
  if (code.startsWith('HPE_')) return { status: '400 Bad Request', error: new FrameError(`upgrade request refused (400): not an HTTP request (${code}: ${err.message})`) };
  return undefined;
}

async function reloadTls(l: WsListening, server: tls.Server, next: TlsOptions): Promise<void> {
  const s = reloadedTls(l.tls!, next);
  loadingTls(() => server.setSecureContext(httpsServerTls(s)));
  // Certificates only, as served: the TLS server's requestCert is fixed at its making, and
  // each connection's identityPending is read from `l.tls`.
  l.tls = reloadedTlsOptions(l.tls!, next);
}

async function upgrade(
  req: http.IncomingMessage,
  socket: Duplex,
  options: ResolvedOptions,
  complete: () => void,
): Promise<void> {
  // A reset while the hook runs must not become an uncaught 'error'.
  socket.on('error', () => socket.destroy());
  const url = req.url ?? '/';
  if (pathnameOf(url) !== options.pathname) return refuse(socket, 404, 'Not Found');
  const info = { url, headers: req.headers, remoteAddress: req.socket.remoteAddress ?? '' };
  const verdict = await decide(options.upgrade, info, options.logger);
  if (verdict !== 'accept') return refuse(socket, REFUSAL[verdict].status, REFUSAL[verdict].text);
  if (socket.destroyed) return;
  complete();
}

/** Answers the upgrade request with a plain HTTP status and closes the socket. */
function refuse(socket: Duplex, status: number, text: string): void {
  if (socket.destroyed) return;
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** Requests that do not ask for an upgrade: 426 on the endpoint, 404 elsewhere. */
function answerPlainRequest(req: http.IncomingMessage, res: http.ServerResponse, pathname: string): void {
  const status = pathnameOf(req.url ?? '/') === pathname ? 426 : 404;
  res.writeHead(status, { connection: 'close', 'content-length': 0 }).end();
}

function remoteOf(socket: net.Socket): string {
  const { remoteAddress, remotePort } = socket;
  return remoteAddress && remotePort !== undefined ? formatAddress({ host: remoteAddress, port: remotePort }) : 'unix';
}

function listenOn(server: net.Server, address: Address): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(listenFailed(formatAddress(address), err.message, err));
    server.once('error', onError);
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    if ('path' in address) server.listen(address.path, onListening);
    else server.listen(address.port, address.host, onListening);
  });
}

function boundAddress(server: net.Server, asked: Address): Address {
  const a = server.address();
  if ('path' in asked || !a || typeof a !== 'object') return asked;
  return { host: asked.host, port: a.port };
}

/**
 * Stops accepting. Connections already accepted, upgraded or not, are left alone (the
 * FrameListener contract: they are the server's), so this does not wait for the 'close' event,
 * which waits for them.
 */
async function closeServer(tcp: net.Server, wss: WebSocketServer, lines: TlsRefusalLines): Promise<void> {
  tcp.close();
  wss.close();
  lines.flush();
}

/**
 * mTLS on the https server (rejectUnauthorized): OpenSSL refuses a missing client certificate
 * in the handshake, with an alert; Node closes one that does not verify as the handshake ends,
 * before the HTTP parser reads a byte of it, and reports that as a hang-up. Each is logged with
 * its reason, as is any other failed handshake; `refused` tells the connection why it closes.
 */
function refuseUnverified(server: tls.Server, secure: ResolvedTls, lines: TlsRefusalLines, refused: (socket: tls.TLSSocket, err: RpcError) => void): void {
  // The TCP socket's address and port: a TLSSocket made over an accepted socket shows the
  // address alone, or (once Node has closed it for a certificate that did not verify) nothing.
  const remote = (socket: tls.TLSSocket): string => {
    const tcp = tcpSocketOf(socket) as net.Socket;
    return tcp.remotePort !== undefined ? remoteOf(tcp) : (socket.remoteAddress ?? remoteOf(tcp));
  };
  const refuseCertificate = (socket: tls.TLSSocket, reason: string): void => {
    lines.warn('TLS client certificate refused', { remote: remote(socket), reason });
    refused(socket, new RpcError(ErrorCode.Unauthenticated, `TLS client certificate refused: ${reason}`));
  };
  server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
    const unverified = (socket as { authorizationError?: unknown }).authorizationError;
    if (unverified) return refuseCertificate(socket, String(unverified));
    if (err.code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return refuseCertificate(socket, 'no client certificate');
    const failure =
      err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT'
        ? new RpcError(ErrorCode.Timeout, `TLS handshake not done within ${secure.handshakeTimeoutMs} ms`)
        : new RpcError(ErrorCode.IO, `TLS handshake failed: ${err.message}`, { cause: err });
    lines.warn('TLS handshake failed', { remote: remote(socket), reason: failure.message });
    refused(socket, failure);
  });
  if (!secure.requestCert) return;
  // A TLS server that lets an unverified certificate through anyway: never served.
  server.prependListener('secureConnection', (socket: tls.TLSSocket) => {
    if (socket.authorized) return;
    refuseCertificate(socket, String(socket.authorizationError));
    socket.destroy();
  });
}

/**
 * The accepted TCP socket under a socket the HTTP(S) server hands us: itself on plain HTTP; on
 * HTTPS, the one the TLSSocket wraps (Node keeps it as `_parent`, and shows it no other way).
 */
function tcpSocketOf(socket: Duplex): Duplex {
  return (socket as { _parent?: Duplex })._parent ?? socket;
}
