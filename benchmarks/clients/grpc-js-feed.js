// The grpc-js peer's feed client: `Items({ count, size })` on one channel (insecure, default
// options), reading the items as 'data' events.
import grpc from '@grpc/grpc-js';
import { runBenchmarkClient } from '../lib/client-process.js';
import { feedCount } from '../lib/feed.js';
import { loadFeed } from '../lib/grpc-feed.js';

runBenchmarkClient(async ({ address, payloadBytes: size }) => {
  const Feed = loadFeed();
  const client = new Feed(`${address.host}:${address.port}`, grpc.credentials.createInsecure());
  await new Promise((resolve, reject) => client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())));
  const request = { count: feedCount(size), size };
  const open = (onItem) =>
    new Promise((resolve, reject) => {
      let n = 0;
      const call = client.Items(request);
      call.on('data', () => (onItem(), n++));
      call.on('error', reject);
      call.on('end', () => (n === request.count ? resolve() : reject(new Error(`feed sent ${n} items, not ${request.count}`))));
    });
  return { open, payloadBytes: size, close: () => client.close() };
});
