// The avsc peer: Avro RPC over TCP, one stateful channel per connection (the handshake once per
// connection, calls multiplexed on it: avsc's way for persistent connections).
import net from 'node:net';
import { avroCalculator } from '../lib/avro-calculator.js';
import { serveBenchmark } from '../lib/server-process.js';

serveBenchmark(async () => {
  const server = avroCalculator.createServer({ silent: true }).onAdd((a, b, cb) => cb(null, a + b));
  const listener = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    server.createChannel(socket);
  });
  await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
  return { address: { host: '127.0.0.1', port: listener.address().port }, close: () => new Promise((r) => listener.close(r)) };
});
