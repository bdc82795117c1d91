// The grpc-js peer's client: N unary Add calls in flight on one channel.
import grpc from '@grpc/grpc-js';
import { ADD_ARG } from '../lib/calculator.js';
import { runBenchmarkClient } from '../lib/client-process.js';
import { addRequestBytes, loadCalculator } from '../lib/grpc-calculator.js';

runBenchmarkClient(async ({ address }) => {
  const Calculator = loadCalculator();
  const client = new Calculator(`${address.host}:${address.port}`, grpc.credentials.createInsecure());
  await new Promise((resolve, reject) => client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())));
  const call = (t0, done) => client.Add(ADD_ARG, (err) => done(err, t0));
  return { call, payloadBytes: addRequestBytes(ADD_ARG), close: () => client.close() };
});
