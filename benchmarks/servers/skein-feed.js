// Skein's feed server (lib/feed.js): layer `stream` answers the FEED action through a router,
// writing each item through `req.stream` (32 B items as the message, larger ones as the blob,
// the stream layer's path for bulk bytes); layer `api` serves the typed Feed, whose `items`
// handler is an async generator, with the chosen codec. Default stream windows (1 MiB).
import { createServiceDispatch, implement } from '@skein/api';
import { createRouter, RpcServer } from '@skein/stream';
import { boundAddress, listenAddress } from '../lib/addresses.js';
import { FEED, feedItem, readFeedRequest } from '../lib/feed.js';
import { Feed } from '../lib/feed-service.js';
import { serveBenchmark } from '../lib/server-process.js';
import { codecByName } from '../lib/skein-codecs.js';
import { transportFor } from '../lib/skein-transports.js';

const BLOB_FROM = 1024;

async function streamFeed(req) {
  const { count, size } = readFeedRequest(req.msg);
  const item = feedItem(size);
  const out = req.stream;
  if (size >= BLOB_FROM) for (let i = 0; i < count; i++) await out.write(undefined, item);
  else for (let i = 0; i < count; i++) await out.write(item);
  return undefined;
}

const typedFeed = implement(Feed, {
  async *items({ count, size }) {
    const item = feedItem(size);
    for (let i = 0; i < count; i++) yield item;
  },
});

function dispatchFor({ layer, codec }) {
  if (layer === 'api') return createServiceDispatch({ codec: codecByName(codec), services: [typedFeed] });
  return createRouter({ [FEED]: streamFeed });
}

serveBenchmark(async (params) => {
  const server = new RpcServer({ dispatch: dispatchFor(params) });
  const bound = await server.listen(transportFor(params.transport, 'server', params), listenAddress(params));
  return { address: boundAddress(params, bound), close: () => server.close() };
});
