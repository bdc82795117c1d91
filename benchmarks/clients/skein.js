// Skein's client for all layers. `stream` and `api` run over one ClientStream (window =
// in-flight count); `pool` over a FailoverPool (round-robin, or the scenario's `strategy`) across every server started, each
// server's connection with the same window. `stream` and `pool` echo `payloadBytes` (plus a
// blob when `blobBytes` is set) by the callback path `send` or the promise path `call`; `api`
// calls the typed `Calculator.add`. Runs on Node, Bun and Deno (see servers/skein.js).
import { createClient } from '@skein/api';
import { formatAddress } from '@skein/core';
import { ClientStream, FailoverPool } from '@skein/stream';
import { ADD_ARG, Calculator } from '../lib/calculator.js';
import { runBenchmarkClient } from '../lib/client-process.js';
import { codecByName } from '../lib/skein-codecs.js';
import { ECHO_BLOB, ECHO_MSG } from '../lib/skein-echo.js';
import { transportFor } from '../lib/skein-transports.js';

runBenchmarkClient(async (params) => {
  const transport = transportFor(params.transport, 'client', params);
  if (params.layer === 'pool') {
    const pool = new FailoverPool({ transport, servers: params.addresses.map(formatAddress), strategy: params.strategy, pool: { stream: { window: params.inFlight } } });
    // FailoverPool.send has ClientStream.send's shape; its connections open on the first calls.
    return { ...echoCaller(pool, params), close: () => pool.close() };
  }
  const stream = await ClientStream.connect({ transport, address: params.address, window: params.inFlight });
  const caller = params.layer === 'api' ? apiCaller(stream, params) : echoCaller(stream, params);
  return { ...caller, close: () => stream.destroy() };
});

function echoCaller(stream, { path, payloadBytes, blobBytes = 0 }) {
  const msg = new Uint8Array(payloadBytes).fill(0x5a);
  const opts = blobBytes > 0 ? { blob: new Uint8Array(blobBytes).fill(0xa5) } : {};
  const action = blobBytes > 0 ? ECHO_BLOB : ECHO_MSG;
  const call =
    path === 'send'
      ? (t0, done) => stream.send(action, msg, opts, (err) => done(err, t0))
      : (t0, done) => stream.call(action, msg, opts).then(() => done(null, t0), (err) => done(err, t0));
  return { call, payloadBytes: payloadBytes + blobBytes };
}

function apiCaller(stream, { codec }) {
  const calc = createClient(Calculator, stream, { codec: codecByName(codec) });
  const call = (t0, done) => calc.add(ADD_ARG).then(() => done(null, t0), (err) => done(err, t0));
  return { call, payloadBytes: codecByName(codec).encode(ADD_ARG).length };
}
