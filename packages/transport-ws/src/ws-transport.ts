import type { ReloadableTransport } from '@skein/core';
import { loadingWs } from './deno-env.js';
import { resolveOptions, type WsTransportOptions } from './options.js';
import { transportOf } from './transport-of.js';

/**
 * Skein over WebSocket with `ws`: a client (ws under Node, the standard WebSocket API on Bun,
 * Deno and in browsers) and a server on a `ws` WebSocketServer. The server half is loaded on
 * first `listen`, so client-only bundles leave node:http out.
 */
export function wsTransport(options: WsTransportOptions = {}): ReloadableTransport {
  const opts = resolveOptions(options);
  return transportOf('ws', opts, async (address, spec, accept, tls, logger) => {
    const { listenWs } = await loadingWs(() => import('./ws-server.js'), 'server');
    return listenWs(address, spec, accept, { ...opts, tls, logger });
  });
}
