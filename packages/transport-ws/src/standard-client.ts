import { connectAborted, invalidArgument, shownAddress, shownUrl, type Address, type FrameConn, type FrameSpec } from '@skein/core';
import { handshake, wsUrl } from './handshake.js';
import { openSocket } from './open-socket.js';
import type { ResolvedOptions } from './options.js';
import { standardMessageConn, type BunWebSocketCtor, type StandardWebSocketCtor } from './standard-socket.js';
import { standardOpenFailure } from './standard-open-failure.js';
import { secureFor, standardClientTls } from './tls.js';

const isBun = (): boolean => !!(globalThis as { process?: { versions?: { bun?: string } } }).process?.versions?.bun;

/** Connects with a standard (browser-style) WebSocket: browsers, Bun, Deno, or one given in the options. */
export function connectStandard(
  Ctor: StandardWebSocketCtor,
  address: Address,
  spec: FrameSpec,
  options: ResolvedOptions,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<FrameConn> {
  if ('path' in address) {
    return Promise.reject(invalidArgument(`the standard WebSocket API cannot dial a Unix socket (${address.path}); use Node, where ws can`));
  }
  const secure = secureFor(address, options.tls);
  const url = wsUrl(address, options.path, secure);
  const shown = shownUrl(url);
  let tlsArg: ReturnType<typeof standardClientTls>;
  try {
    tlsArg = secure ? standardClientTls(options.tls, isBun()) : undefined;
  } catch (err) {
    return Promise.reject(err);
  }
  // Refused, never dropped: a server whose upgrade hook wants them would refuse the connection,
  // and this API cannot say why (Unreachable, `closed before opening`).
  if (options.headers !== undefined && Object.keys(options.headers).length > 0) {
    return Promise.reject(invalidArgument(`headers: the standard WebSocket API sends no headers of its own on the upgrade request; put a token in the path's query (path: '/skein?token=…') for the server's upgrade hook, or use the default client of Node or Deno (ws), which sends them`));
  }
  // Before dialling: the handshake would find it aborted with a socket already on its way.
  if (signal?.aborted) return Promise.reject(connectAborted(shown, signal.reason));
  let ws: InstanceType<StandardWebSocketCtor>;
  try {
    // tlsArg is set only under Bun (standardClientTls refuses TLS options elsewhere), whose constructor takes it.
    ws = openSocket(shown, () => (tlsArg === undefined ? new Ctor(url) : new (Ctor as BunWebSocketCtor)(url, tlsArg)));
  } catch (err) {
    return Promise.reject(err);
  }
  // The default, Blob, would make every message an async read.
  ws.binaryType = 'arraybuffer';
  return handshake(shown, timeoutMs, (settle) => {
    ws.addEventListener('open', () => settle.ok(standardMessageConn(ws, shownAddress(address), spec, options)));
    // The standard API does not say why a handshake failed (refused, 401, 404 look the same), but
    // Bun's error event, which comes before the close, does.
    let said: unknown;
    ws.addEventListener('error', (ev) => (said = typeof ev === 'object' && ev !== null ? (ev as { message?: unknown }).message : undefined));
    ws.addEventListener('close', (ev) => settle.fail(standardOpenFailure(url, ev.code, said)));
    return () => ws.close();
  }, signal);
}

/** The runtime's own WebSocket constructor, if it has one. */
export function globalWebSocket(): StandardWebSocketCtor | undefined {
  return (globalThis as { WebSocket?: StandardWebSocketCtor }).WebSocket;
}
