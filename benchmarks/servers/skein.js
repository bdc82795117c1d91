// Skein's server for all layers: `stream` (and `pool`, whose client spreads calls over several
// of these) echoes raw bytes through a router (action 1: the message, action 2: message and
// blob); `api` serves the Calculator through the service dispatch with the chosen codec.
// Runs on Node, Bun and Deno: TCP through `@skein/runtime`, or WebSocket (ws, uWS on Node).
import { createServiceDispatch, implement } from '@skein/api';
import { RpcServer } from '@skein/stream';
import { boundAddress, listenAddress } from '../lib/addresses.js';
import { Calculator, DivideByZero } from '../lib/calculator.js';
import { serveBenchmark } from '../lib/server-process.js';
import { codecByName } from '../lib/skein-codecs.js';
import { echoRouter } from '../lib/skein-echo.js';
import { transportFor } from '../lib/skein-transports.js';

const calculator = implement(Calculator, {
  add: ({ a, b }) => a + b,
  div: ({ a, b }) => {
    if (b === 0) throw new DivideByZero();
    return a / b;
  },
  echo: (bytes) => bytes,
});

function dispatchFor({ layer, codec }) {
  if (layer === 'api') return createServiceDispatch({ codec: codecByName(codec), services: [calculator] });
  return echoRouter();
}

serveBenchmark(async (params) => {
  // The memory benchmark holds more connections than the default limit allows.
  const server = new RpcServer({ dispatch: dispatchFor(params), ...(params.maxConnections ? { maxConnections: params.maxConnections } : {}) });
  const bound = await server.listen(transportFor(params.transport, 'server', params), listenAddress(params));
  return { address: boundAddress(params, bound), close: () => server.close() };
});
