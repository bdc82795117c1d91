import { runtime } from '@skein/runtime';
import { tcpTransport } from '@skein/transport-tcp';
import { uwsTransport, wsTransport } from '@skein/transport-ws';

/**
 * The Skein transport of a benchmark's `transport`: `tcp` and `unix` over the runtime's sockets
 * (`@skein/runtime` is Node's, Bun's or Deno's adapter, by exports condition), `ws` over the
 * `ws` package, `ws-uws` the uWebSockets.js server (its client is the `ws` one).
 */
export function transportFor(transport, role) {
  if (transport === 'tcp' || transport === 'unix') return tcpTransport(runtime);
  if (transport === 'ws') return wsTransport();
  if (transport === 'ws-uws') {
    // Off Node 20 uWebSockets.js quietly falls back to ws: never measure that as uWS.
    if (typeof process === 'undefined' || process.release?.name !== 'node' || 'Bun' in globalThis || 'Deno' in globalThis) {
      throw new Error('ws-uws is measured on Node only');
    }
    return role === 'server' ? uwsTransport() : wsTransport();
  }
  throw new Error(`unknown transport ${JSON.stringify(transport)}`);
}
