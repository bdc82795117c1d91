/**
 * @skein/transport-ws for browsers (the `browser` export condition): the same names as the Node
 * entry (index.ts), so the same declarations describe both, but only the client over the
 * standard WebSocket. Nothing here imports `ws` or `node:*`: esbuild, Vite or webpack bundle it
 * for a page with no flags.
 */
import type { ReloadableTransport } from '@skein/core';
import { browserWsTransport } from './browser-transport.js';
import type { WsTransportOptions } from './options.js';
import type { UwsTransportOptions } from './uws-transport.js';

export function wsTransport(options: WsTransportOptions = {}): ReloadableTransport {
  return browserWsTransport('ws', options);
}

/** A uWebSockets.js server speaks WebSocket: a page reaches it with the same client. */
export function uwsTransport(options: UwsTransportOptions = {}): ReloadableTransport {
  return browserWsTransport('uws', options);
}

export type { UwsTransportOptions } from './uws-transport.js';
export type { WsTransportOptions, UpgradeRequest } from './options.js';
export type { StandardWebSocket, StandardWebSocketCtor } from './standard-socket.js';
export { CloseCode } from './close-codes.js';
export { UwsUnavailableError } from './uws-error.js';
