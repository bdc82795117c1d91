// The grpc-js peer: unary Add on 127.0.0.1 with insecure credentials.
import grpc from '@grpc/grpc-js';
import { loadCalculator } from '../lib/grpc-calculator.js';
import { serveBenchmark } from '../lib/server-process.js';

serveBenchmark(async () => {
  const server = new grpc.Server();
  server.addService(loadCalculator().service, {
    Add: (call, callback) => callback(null, { sum: call.request.a + call.request.b }),
  });
  const port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { address: { host: '127.0.0.1', port }, close: () => new Promise((r) => server.tryShutdown(r)) };
});
