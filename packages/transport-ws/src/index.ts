/**
 * @skein/transport-ws: core's `Transport` contract over WebSocket. Each binary message carries
 * whole frames (a turn's frames batched into one message: message-batcher.ts), so a message
 * never ends inside a frame and the reader (message-reader.ts) only checks that the frames fill
 * it exactly. One `MessageConn` (message-conn.ts) serves every socket kind behind a small
 * socket interface: the `ws` package's (ws-socket.ts), the standard `WebSocket` of browsers,
 * Bun and Deno (standard-socket.ts), and uWebSockets.js on the server (uws-server.ts), which
 * is loaded only when asked for and falls back to `ws` where it is not native.
 */

// ── What an application uses ─────────────────────────────────────────────────────────────
export { wsTransport } from './ws-transport.js';
export { uwsTransport } from './uws-transport.js';
export type { UwsTransportOptions } from './uws-transport.js';
export type { WsTransportOptions, UpgradeRequest } from './options.js';
// ── For runtimes with their own WebSocket (browsers, Bun, Deno), and for close handling ──
export type { StandardWebSocket, StandardWebSocketCtor } from './standard-socket.js';
export { CloseCode } from './close-codes.js';
export { UwsUnavailableError } from './uws-error.js';
