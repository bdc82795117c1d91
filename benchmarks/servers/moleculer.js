// The moleculer peer: a broker with a `math.add` action, on the TCP transporter.
import { createBroker, moleculerUrls } from '../lib/moleculer-broker.js';
import { serveBenchmark } from '../lib/server-process.js';

serveBenchmark(async ({ ports }) => {
  const broker = createBroker('bench-server', moleculerUrls(ports.server, ports.client));
  broker.createService({ name: 'math', actions: { add: (ctx) => ctx.params.a + ctx.params.b } });
  await broker.start();
  return { address: { host: '127.0.0.1', port: ports.server }, close: () => broker.stop() };
});
