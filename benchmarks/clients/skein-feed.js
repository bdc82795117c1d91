// Skein's feed client (lib/feed.js) over one ClientStream with default stream windows: layer
// `stream` opens FEED with `openStream` and reads the items with `for await`; layer `api`
// calls the typed `Feed.items` and reads its AsyncIterable (both in lib/skein-feed.js).
import { ClientStream } from '@skein/stream';
import { runBenchmarkClient } from '../lib/client-process.js';
import { feedCount } from '../lib/feed.js';
import { codecByName } from '../lib/skein-codecs.js';
import { feedOpener } from '../lib/skein-feed.js';
import { transportFor } from '../lib/skein-transports.js';

runBenchmarkClient(async (params) => {
  const stream = await ClientStream.connect({ transport: transportFor(params.transport, 'client', params), address: params.address });
  const size = params.payloadBytes;
  const codec = params.layer === 'api' ? codecByName(params.codec) : undefined;
  const open = feedOpener(params.layer, stream, codec, feedCount(size), size);
  return { open, payloadBytes: size, close: () => stream.destroy() };
});
