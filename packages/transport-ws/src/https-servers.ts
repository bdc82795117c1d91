import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { invalidArgument, type ResolvedTls } from '@skein/core';
import { httpsServerTls } from './tls.js';

/**
 * The servers a wss:// socket the ws server kept is handed to (ws-server.ts): `tls` runs its TLS
 * handshake ('connection' in; 'tlsClientError', 'secureConnection' and setSecureContext as Node's
 * tls.Server has them), `http` reads its requests ('upgrade'). Only what the runtimes differ in
 * is here; the ws server wires both the same way on each.
 */
export interface HttpsServers {
  readonly tls: tls.Server;
  readonly http: http.Server;
}

/**
 * Node: one https server is both. Bun: its https server runs no TLS on a socket handed to it
 * through 'connection' (it listens and handshakes natively, showing nothing before the handshake
 * ends, so a peer that never sent a ClientHello was held ~12 s whatever handshakeTimeoutMs said):
 * there a tls.Server takes the socket and hands each secured one to an http server, as Node's
 * https server does inside.
 */
export function httpsServers(s: ResolvedTls, answer: http.RequestListener): HttpsServers {
  if (!isBun()) {
    const server = https.createServer(httpsServerTls(s), answer);
    return { tls: server, http: server };
  }
  const server = http.createServer(answer);
  // Registered first, as Node's https server registers its own: the ws server's listeners
  // (refuseUnverified's check is prepended, its `secured` appended) keep their order around it.
  const secure = tls.createServer(httpsServerTls(s), (socket) => {
    if (!socket.destroyed) server.emit('connection', socket);
  });
  // Bun's tls.Server reports a handshake timeout (ERR_TLS_HANDSHAKE_TIMEOUT) but leaves the
  // socket open, where Node's closes it: closed here once every listener has read the error.
  secure.on('tlsClientError', (_err: Error, socket: tls.TLSSocket) => process.nextTick(() => socket.destroy()));
  return { tls: secure, http: server };
}

/**
 * Refuses, before anything is bound, what this runtime's TLS server cannot honour. Deno's
 * node:tls server does not verify a client certificate against `ca` (Deno 2.9: a good one fails
 * with UNABLE_TO_VERIFY_LEAF_SIGNATURE), so with `requestCert` it would refuse every client.
 */
export function checkServerTls(s: ResolvedTls): void {
  if (s.requestCert && isDeno()) {
    throw invalidArgument('tls.requestCert: a Deno wss:// server cannot require client certificates (Deno\'s node:tls server refuses every one, verified or not; no mTLS on a Deno server: use Node or Bun)');
  }
}

function isDeno(): boolean {
  return typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
}

function isBun(): boolean {
  return typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';
}
