// The Connect-ES peer's client: `createClient(Calculator, transport)` with connect-node's Connect
// transport over HTTP/2 (one session for every call), binary protobuf, `add({ a, b })`.
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { create, toBinary } from '@bufbuild/protobuf';
import { AddRequestSchema, Calculator } from '../gen/calculator_pb.js';
import { ADD_ARG } from '../lib/calculator.js';
import { runBenchmarkClient } from '../lib/client-process.js';

runBenchmarkClient(async ({ address }) => {
  const transport = createConnectTransport({ baseUrl: `http://${address.host}:${address.port}`, httpVersion: '2', useBinaryFormat: true });
  const client = createClient(Calculator, transport);
  await client.add(ADD_ARG); // the HTTP/2 session is up
  const call = (t0, done) => client.add(ADD_ARG).then(() => done(null, t0), (err) => done(err, t0));
  // Nothing to close: connect-node's session manager lets an idle session go; the client exits.
  return { call, payloadBytes: toBinary(AddRequestSchema, create(AddRequestSchema, ADD_ARG)).length, close: () => {} };
});
