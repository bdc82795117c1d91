// The grpc-js peer's feed (lib/feed.js): the server-streaming `Items` of feed.proto on
// 127.0.0.1 with insecure credentials and default channel options; the handler writes each
// item and waits for 'drain' whenever `write()` says the stream's buffer is full, as the
// Node stream contract asks.
import { once } from 'node:events';
import grpc from '@grpc/grpc-js';
import { feedItem } from '../lib/feed.js';
import { loadFeed } from '../lib/grpc-feed.js';
import { serveBenchmark } from '../lib/server-process.js';

async function items(call) {
  const { count, size } = call.request;
  const item = { data: feedItem(size) };
  for (let i = 0; i < count && !call.cancelled; i++) if (!call.write(item)) await once(call, 'drain');
  call.end();
}

serveBenchmark(async () => {
  const server = new grpc.Server();
  server.addService(loadFeed().service, { Items: items });
  const port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { address: { host: '127.0.0.1', port }, close: () => new Promise((r) => server.tryShutdown(r)) };
});
