// The Cap'n Web peer's client: one WebSocket RPC session (a `ws` WebSocket: Node 20 has no
// global one), `api.add({ a, b })`, N in flight.
import { newWebSocketRpcSession } from 'capnweb';
import WebSocket from 'ws';
import { ADD_ARG } from '../lib/calculator.js';
import { runBenchmarkClient } from '../lib/client-process.js';
import '../lib/websocket-global.js';

runBenchmarkClient(async ({ address }) => {
  const socket = new WebSocket(`ws://${address.host}:${address.port}/`, { perMessageDeflate: false });
  const api = newWebSocketRpcSession(socket);
  await api.add(ADD_ARG);
  const call = (t0, done) => api.add(ADD_ARG).then(() => done(null, t0), (err) => done(err, t0));
  return { call, payloadBytes: Buffer.byteLength(JSON.stringify(ADD_ARG)), close: () => socket.terminate() };
});
