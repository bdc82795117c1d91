// Skein's feed client (lib/feed.js) over one ClientStream with default stream windows: layer
// `stream` opens FEED with `openStream` and reads the items with `for await`; layer `api`
// calls the typed `Feed.items` and reads its AsyncIterable.
import { createClient } from '@skein/api';
import { ClientStream } from '@skein/stream';
import { runBenchmarkClient } from '../lib/client-process.js';
import { FEED, feedCount, feedRequest } from '../lib/feed.js';
import { Feed } from '../lib/feed-service.js';
import { codecByName } from '../lib/skein-codecs.js';
import { transportFor } from '../lib/skein-transports.js';

runBenchmarkClient(async (params) => {
  const stream = await ClientStream.connect({ transport: transportFor(params.transport, 'client', params), address: params.address });
  const size = params.payloadBytes;
  const count = feedCount(size);
  const open = params.layer === 'api' ? typedOpen(stream, params.codec, count, size) : streamOpen(stream, count, size);
  return { open, payloadBytes: size, close: () => stream.destroy() };
});

function streamOpen(stream, count, size) {
  const request = feedRequest(count, size);
  return async (onItem) => {
    const s = stream.openStream(FEED, request);
    let n = 0;
    for await (const _item of s) onItem(), n++;
    await s.result;
    if (n !== count) throw new Error(`feed sent ${n} items, not ${count}`);
  };
}

function typedOpen(stream, codec, count, size) {
  const feed = createClient(Feed, stream, { codec: codecByName(codec) });
  return async (onItem) => {
    let n = 0;
    for await (const _item of await feed.items({ count, size })) onItem(), n++;
    if (n !== count) throw new Error(`feed sent ${n} items, not ${count}`);
  };
}
