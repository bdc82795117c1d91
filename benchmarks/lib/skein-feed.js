// Skein's two sides of the feed (lib/feed.js), shared by its server and client processes
// (servers/skein-feed.js, clients/skein-feed.js) and by js-cost.js's in-process `feed` modes.
import { createClient, createServiceDispatch, implement } from '@skein/api';
import { createRouter } from '@skein/stream';
import { FEED, feedItem, feedRequest, readFeedRequest } from './feed.js';
import { Feed } from './feed-service.js';

/** Items this large go as the blob, the stream layer's path for bulk bytes; smaller ones as the message. */
const BLOB_FROM = 1024;

/** Layer `stream`: the FEED action writes each item through `req.stream`. */
async function streamFeed(req) {
  const { count, size } = readFeedRequest(req.msg);
  const item = feedItem(size);
  const out = req.stream;
  if (size >= BLOB_FROM) for (let i = 0; i < count; i++) await out.write(undefined, item);
  else for (let i = 0; i < count; i++) await out.write(item);
  return undefined;
}

/** Layer `api`: the typed Feed, whose `items` handler is an async generator. */
const typedFeed = implement(Feed, {
  async *items({ count, size }) {
    const item = feedItem(size);
    for (let i = 0; i < count; i++) yield item;
  },
});

/** The server's dispatch for `layer` (`api` with `codec`, else `stream`). */
export function feedDispatch(layer, codec) {
  if (layer === 'api') return createServiceDispatch({ codec, services: [typedFeed] });
  return createRouter({ [FEED]: streamFeed });
}

/**
 * `open(onItem)`: one stream of `count` items of `size` bytes over `stream` (a ClientStream),
 * calling `onItem()` for each item read; rejects when the server sent another number of items.
 */
export function feedOpener(layer, stream, codec, count, size) {
  return layer === 'api' ? typedOpen(stream, codec, count, size) : streamOpen(stream, count, size);
}

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
  const feed = createClient(Feed, stream, { codec });
  return async (onItem) => {
    let n = 0;
    for await (const _item of await feed.items({ count, size })) onItem(), n++;
    if (n !== count) throw new Error(`feed sent ${n} items, not ${count}`);
  };
}
