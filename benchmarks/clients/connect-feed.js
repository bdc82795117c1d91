// The Connect-ES peer's feed client: connect-node's Connect transport over HTTP/2 (one
// session), binary protobuf, `for await` over `items({ count, size })`.
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { Feed } from '../gen/feed_pb.js';
import { runBenchmarkClient } from '../lib/client-process.js';
import { feedCount } from '../lib/feed.js';

runBenchmarkClient(async ({ address, payloadBytes: size }) => {
  const transport = createConnectTransport({ baseUrl: `http://${address.host}:${address.port}`, httpVersion: '2', useBinaryFormat: true });
  const client = createClient(Feed, transport);
  const count = feedCount(size);
  const open = async (onItem) => {
    let n = 0;
    for await (const _item of client.items({ count, size })) onItem(), n++;
    if (n !== count) throw new Error(`feed sent ${n} items, not ${count}`);
  };
  // Nothing to close: connect-node's session manager lets an idle session go; the client exits.
  return { open, payloadBytes: size, close: () => {} };
});
