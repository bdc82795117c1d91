/**
 * uWebSockets.js is missing, or is not the native server. In its own file so the public
 * declarations never import uWebSockets.js types (an optional peer: they may be absent).
 */
export class UwsUnavailableError extends Error {
  override readonly name = 'UwsUnavailableError';
}
