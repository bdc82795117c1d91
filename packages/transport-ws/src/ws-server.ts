import http from 'node:http';
import type { Duplex } from 'node:stream';
import { formatAddress, listenFailed, type Address, type FrameConn, type FrameListener, type FrameSpec } from '@skein/core';
import { WebSocketServer, type WebSocket } from 'ws';
import { Keepalive } from './keepalive.js';
import { pathnameOf, type ResolvedOptions } from './options.js';
import { decide, REFUSAL } from './upgrade-hook.js';
import { wsMessageConn } from './ws-socket.js';

/**
 * A Skein endpoint on a `ws` WebSocketServer attached (noServer) to its own HTTP server, so the
 * upgrade can be routed by path and refused by the hook before ws ever sees it.
 */
export async function listenWs(
  address: Address,
  spec: FrameSpec,
  accept: (conn: FrameConn) => void,
  options: ResolvedOptions,
): Promise<FrameListener> {
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: options.maxWsMessageBytes,
    clientTracking: false,
  });
  const keepalive = new Keepalive(options.pingIntervalMs);
  const onSocket = (ws: WebSocket, req: http.IncomingMessage): void => {
    const conn = wsMessageConn(ws, remoteOf(req), spec, options);
    keepalive.add(ws, conn);
    try {
      accept(conn);
    } catch (err) {
      options.logger.error({ err, remote: conn.remote }, 'accept threw; closing the connection');
      conn.fail(err);
    }
  };
  const server = http.createServer((req, res) => answerPlainRequest(req, res, options.pathname));
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    void upgrade(req, socket, options, () => wss.handleUpgrade(req, socket, head, (ws) => onSocket(ws, req)));
  });
  await listenOn(server, address);
  const listener: FrameListener = { address: boundAddress(server, address), close: () => closeServer(server, wss) };
  return listener;
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

function remoteOf(req: http.IncomingMessage): string {
  const { remoteAddress, remotePort } = req.socket;
  return remoteAddress && remotePort !== undefined ? formatAddress({ host: remoteAddress, port: remotePort }) : 'unix';
}

function listenOn(server: http.Server, address: Address): Promise<void> {
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

function boundAddress(server: http.Server, asked: Address): Address {
  const a = server.address();
  if ('path' in asked || !a || typeof a !== 'object') return asked;
  return { host: asked.host, port: a.port };
}

/**
 * Stops accepting. Connections already accepted are left alone (the FrameListener contract), so
 * this does not wait for the HTTP server's 'close' event, which waits for them.
 */
async function closeServer(server: http.Server, wss: WebSocketServer): Promise<void> {
  server.close();
  server.closeIdleConnections();
  wss.close();
}
