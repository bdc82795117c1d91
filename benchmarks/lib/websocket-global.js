import WebSocket from 'ws';

/**
 * Cap'n Web reads the global `WebSocket` (for its state constants), which Node 20 does not have;
 * its docs point Node users to `ws`. Importing this module installs `ws` as the global where none
 * is (Node 22, Bun and Deno have their own).
 */
globalThis.WebSocket ??= WebSocket;
