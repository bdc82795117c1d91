export { wsTransport } from './ws-transport.js';
export { uwsTransport } from './uws-transport.js';
export type { UwsTransportOptions } from './uws-transport.js';
export type { WsTransportOptions, UpgradeRequest } from './options.js';
export type { StandardWebSocket, StandardWebSocketCtor } from './standard-socket.js';
export { CloseCode } from './close-codes.js';
export { UwsUnavailableError } from './uws-error.js';
