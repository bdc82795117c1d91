// Skein's feed server (lib/feed.js): layer `stream` answers the FEED action through a router,
// writing each item through `req.stream` (32 B items as the message, larger ones as the blob,
// the stream layer's path for bulk bytes); layer `api` serves the typed Feed, whose `items`
// handler is an async generator, with the chosen codec (both in lib/skein-feed.js). Default
// stream windows (1 MiB).
import { RpcServer } from '@skein/stream';
import { boundAddress, listenAddress } from '../lib/addresses.js';
import { serveBenchmark } from '../lib/server-process.js';
import { codecByName } from '../lib/skein-codecs.js';
import { feedDispatch } from '../lib/skein-feed.js';
import { transportFor } from '../lib/skein-transports.js';

serveBenchmark(async (params) => {
  const server = new RpcServer({ dispatch: feedDispatch(params.layer, params.layer === 'api' ? codecByName(params.codec) : undefined) });
  const bound = await server.listen(transportFor(params.transport, 'server', params), listenAddress(params));
  return { address: boundAddress(params, bound), close: () => server.close() };
});
