// The moleculer peer's client: its own broker, `broker.call('math.add', { a, b })`, N in flight.
import { ADD_ARG } from '../lib/calculator.js';
import { runBenchmarkClient } from '../lib/client-process.js';
import { createBroker, moleculerUrls } from '../lib/moleculer-broker.js';

runBenchmarkClient(async ({ ports }) => {
  const broker = createBroker('bench-client', moleculerUrls(ports.server, ports.client));
  await broker.start();
  await broker.waitForServices('math', 10_000);
  const call = (t0, done) => broker.call('math.add', ADD_ARG).then(() => done(null, t0), (err) => done(err, t0));
  return { call, payloadBytes: Buffer.byteLength(JSON.stringify(ADD_ARG)), close: () => broker.stop() };
});
