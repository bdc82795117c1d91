// The NATS peer's client: one connection to the benchmark's nats-server, `nc.request('calc.add',
// json)` (replies come back on the connection's one shared inbox subscription), N in flight.
import { connect } from '@nats-io/transport-node';
import { ADD_ARG } from '../lib/calculator.js';
import { runBenchmarkClient } from '../lib/client-process.js';
import { NATS_ADD_SUBJECT } from '../lib/nats-broker.js';

runBenchmarkClient(async ({ address }) => {
  const nc = await connect({ servers: `${address.host}:${address.port}` });
  const payload = JSON.stringify(ADD_ARG);
  await nc.request(NATS_ADD_SUBJECT, payload, { timeout: 10_000 }); // the server is subscribed
  const call = (t0, done) => nc.request(NATS_ADD_SUBJECT, payload, { timeout: 30_000 }).then((m) => (m.json(), done(null, t0)), (err) => done(err, t0));
  return { call, payloadBytes: Buffer.byteLength(payload), close: () => nc.close() };
});
