// The typed layer's feed (lib/feed.js), apart from it so the peers' processes load no Skein.
import { service, serverStream } from '@skein/api';

/** `items({ count, size })` yields `count` byte arrays of `size` bytes. */
export const Feed = service('Feed', {
  items: serverStream(),
});
