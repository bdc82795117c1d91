// The grpc-js peer: unary Add on 127.0.0.1 with insecure credentials, or TLS ones for the
// `http2-tls` transport (the orchestrator's throwaway certificate, as Skein's `tls` runs use).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import grpc from '@grpc/grpc-js';
import { loadCalculator } from '../lib/grpc-calculator.js';
import { serveBenchmark } from '../lib/server-process.js';

serveBenchmark(async (params) => {
  const server = new grpc.Server();
  server.addService(loadCalculator().service, {
    Add: (call, callback) => callback(null, { sum: call.request.a + call.request.b }),
  });
  const port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials(params), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { address: { host: '127.0.0.1', port }, close: () => new Promise((r) => server.tryShutdown(r)) };
});

function credentials(params) {
  if (params.transport !== 'http2-tls') return grpc.ServerCredentials.createInsecure();
  const read = (name) => readFileSync(path.join(params.tlsDir, name));
  return grpc.ServerCredentials.createSsl(null, [{ cert_chain: read('server.crt'), private_key: read('server.key') }], false);
}
