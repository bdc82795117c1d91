// The tRPC v11 peer's client: `createTRPCClient` over one `wsLink` (a `ws` WebSocket, as tRPC's
// docs say for Node), `client.add.query({ a, b })`, N in flight.
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import WebSocket from 'ws';
import { ADD_ARG } from '../lib/calculator.js';
import { runBenchmarkClient } from '../lib/client-process.js';

runBenchmarkClient(async ({ address }) => {
  const wsClient = createWSClient({ url: `ws://${address.host}:${address.port}`, WebSocket });
  const client = createTRPCClient({ links: [wsLink({ client: wsClient })] });
  await client.add.query(ADD_ARG); // the socket is open and the procedure answers
  const call = (t0, done) => client.add.query(ADD_ARG).then(() => done(null, t0), (err) => done(err, t0));
  return { call, payloadBytes: Buffer.byteLength(JSON.stringify(ADD_ARG)), close: () => wsClient.close() };
});
