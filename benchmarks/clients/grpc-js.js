// The grpc-js peer's client: N unary Add calls in flight on one channel.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import grpc from '@grpc/grpc-js';
import { ADD_ARG } from '../lib/calculator.js';
import { runBenchmarkClient } from '../lib/client-process.js';
import { addRequestBytes, loadCalculator } from '../lib/grpc-calculator.js';

runBenchmarkClient(async ({ address, transport, tlsDir }) => {
  const Calculator = loadCalculator();
  // `http2-tls`: trust the orchestrator's throwaway CA (the certificate names 127.0.0.1).
  const creds = transport === 'http2-tls' ? grpc.credentials.createSsl(readFileSync(path.join(tlsDir, 'ca.crt'))) : grpc.credentials.createInsecure();
  const client = new Calculator(`${address.host}:${address.port}`, creds);
  await new Promise((resolve, reject) => client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())));
  const call = (t0, done) => client.Add(ADD_ARG, (err) => done(err, t0));
  return { call, payloadBytes: addRequestBytes(ADD_ARG), close: () => client.close() };
});
