import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { connectAborted, shownAddress, shownUrl, type Address, type FrameConn, type FrameSpec } from '@skein/core';
import { loadingWs } from './deno-env.js';
import { handshake, wsUrl } from './handshake.js';
import { openSocket } from './open-socket.js';
import type { ResolvedOptions } from './options.js';
import { connectStandard, globalWebSocket } from './standard-client.js';
import { secureFor, wsClientTls } from './tls.js';
import { WS_RECEIVE_LIMITS, wsMessageConn } from './ws-socket.js';
import { WssHandshake, loadClientPairOnce } from './wss-handshake.js';
import { upgradeFailed } from './upgrade-failure.js';
import { upgradeRefused } from './upgrade-refusal.js';

/** Connects with `ws` under Node and Deno, or with the standard WebSocket API elsewhere (or when given one). */
export function connectClient(address: Address, spec: FrameSpec, options: ResolvedOptions, timeoutMs: number, signal?: AbortSignal): Promise<FrameConn> {
  const Standard = options.WebSocket ?? (preferStandardApi() ? globalWebSocket() : undefined);
  return Standard ? connectStandard(Standard, address, spec, options, timeoutMs, signal) : connectWs(address, spec, options, timeoutMs, signal);
}

/**
 * Under Node and Deno `ws` is preferred (fragments, send callbacks, a read pause, Unix sockets, a
 * CA option, and above all `terminate()`: Deno's own WebSocket cannot drop a connection, so a
 * server that never answered its close frame held the socket until it let go). Bun also sets
 * `process.versions.node`, but its own WebSocket beats `ws` under its Node compatibility layer,
 * and has `pause()` and `terminate()` of its own.
 */
function preferStandardApi(): boolean {
  const versions = (globalThis as { process?: { versions?: Record<string, string | undefined> } }).process?.versions;
  return globalWebSocket() !== undefined && (!versions?.node || !!versions.bun);
}

async function connectWs(address: Address, spec: FrameSpec, options: ResolvedOptions, timeoutMs: number, signal: AbortSignal | undefined): Promise<FrameConn> {
  const { WebSocket } = await loadWs();
  const secure = secureFor(address, options.tls);
  const url = wsUrl(address, options.path, secure);
  const shown = shownUrl(url);
  // The TLS options before the abort, as on every transport: a mistake in them is told even to a caller that gave up.
  const clientTls = wsClientTls(options.tls);
  loadClientPairOnce(options.tls, clientTls);
  // Before dialling (ws may have loaded meanwhile): the handshake below would find it aborted with a socket already on its way.
  if (signal?.aborted) throw connectAborted(shown, signal.reason);
  const tls = secure ? new WssHandshake(options.tls) : undefined;
  const ws = openSocket(shown, () => new WebSocket(url, {
    perMessageDeflate: false,
    maxPayload: options.maxWsMessageBytes,
    ...WS_RECEIVE_LIMITS,
    headers: options.headers,
    ...clientTls,
    // ws calls it with one options object; its typings borrow net.createConnection's overloads.
    ...(tls && { createConnection: tls.connect as unknown as typeof net.createConnection }),
  }));
  const remote = shownAddress(address);
  return handshake(shown, timeoutMs, (settle) => {
    let socket: Duplex | undefined;
    // The socket ws reads once upgraded: its reads are watched too (chunk-guard.ts).
    ws.on('upgrade', (res) => (socket = res.socket));
    ws.on('open', () => settle.ok(wsMessageConn(ws, socket!, remote, spec, options)));
    ws.on('unexpected-response', (_req, res) => {
      settle.fail(upgradeRefused(shown, res.statusCode ?? 0));
      ws.terminate();
    });
    ws.on('error', (err) => settle.fail(tls ? tls.failure(shown, err) : upgradeFailed(shown, err)));
    return () => ws.terminate();
  }, signal);
}

/** `ws`, loaded on first use: Bun and browsers, which use their own WebSocket, never load it. */
function loadWs(): Promise<typeof import('ws')> {
  return loadingWs(() => import('ws'), 'client', ", or pass Deno's WebSocket as the WebSocket option");
}
