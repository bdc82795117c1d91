// The avsc peer's client: an avsc client with one stateful channel on a TCP socket, calls
// buffered until the handshake is done, `client.add(a, b, cb)`, N in flight.
import net from 'node:net';
import { ADD_ARG } from '../lib/calculator.js';
import { avroAddBytes, avroCalculator } from '../lib/avro-calculator.js';
import { runBenchmarkClient } from '../lib/client-process.js';

runBenchmarkClient(async ({ address }) => {
  const socket = net.connect(address.port, address.host);
  socket.setNoDelay(true);
  const client = avroCalculator.createClient({ buffering: true, transport: socket });
  const { a, b } = ADD_ARG;
  await new Promise((resolve, reject) => client.add(a, b, (err) => (err ? reject(err) : resolve())));
  const call = (t0, done) => client.add(a, b, (err) => done(err, t0));
  return { call, payloadBytes: avroAddBytes(ADD_ARG), close: () => socket.destroy() };
});
