// The WebSocket limit's client: a plain `ws` client, one binary message per call, N messages
// in flight. Both echo servers answer in order, so send times wait in a ring.
import WebSocket from 'ws';
import { runBenchmarkClient } from '../lib/client-process.js';
import { TimeRing } from '../lib/time-ring.js';

runBenchmarkClient(async ({ address, payloadBytes, inFlight }) => {
  const socket = new WebSocket(`ws://${address.host}:${address.port}/`, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  const message = Buffer.alloc(payloadBytes, 0x5a);
  const sent = new TimeRing(inFlight);
  let done; // the closed loop hands the same completion function to every call
  socket.on('message', () => done(null, sent.shift()));
  const call = (t0, onDone) => {
    done = onDone;
    sent.push(t0);
    socket.send(message, { binary: true });
  };
  return { call, payloadBytes, close: () => socket.terminate() };
});
