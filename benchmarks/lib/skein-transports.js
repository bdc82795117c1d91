import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runtime } from '@skein/runtime';
import { tcpTransport } from '@skein/transport-tcp';
import { uwsTransport, wsTransport } from '@skein/transport-ws';

/**
 * The Skein transport of a benchmark's `transport`: `tcp` and `unix` over the runtime's sockets
 * (`@skein/runtime` is Node's, Bun's or Deno's adapter, by exports condition), `ws` over the
 * `ws` package, `ws-uws` the uWebSockets.js server (its client is the `ws` one), `tls` TCP with
 * TLS (certificates from `params.tlsDir`, which the orchestrator made: lib/run-once.js).
 */
export function transportFor(transport, role, params = {}) {
  if (transport === 'tcp' || transport === 'unix') return tcpTransport(runtime);
  if (transport === 'tls') return tcpTransport(runtime, { tls: benchTls(params.tlsDir, role) });
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

/** The server's certificate and key, or the CA a client trusts (by IP: the certificate names 127.0.0.1). */
function benchTls(dir, role) {
  if (!dir) throw new Error('the tls transport needs params.tlsDir');
  const read = (name) => readFileSync(path.join(dir, name), 'utf8');
  return role === 'server' ? { cert: read('server.crt'), key: read('server.key') } : { ca: read('ca.crt') };
}
