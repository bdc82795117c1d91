/**
 * The server-streaming benchmark ("feed"), the same for every system: the client asks for
 * `count` items of `size` bytes, the server sends them as fast as the stream's flow control
 * lets it, the client reads them and opens the next stream. One item is one "call" in the
 * results: calls/s are items/s, MB/s the items' bytes (each crosses the wire once, where an
 * echo's payload crosses twice).
 */

/** Stream-layer action of the feed: its request is `count` then `size`, u32 LE each. */
export const FEED = 3;

/**
 * Items per stream: enough that opening a stream is a small share of its cost, few enough
 * that the last stream ends soon after the measuring window does.
 */
export const feedCount = (size) => (size >= 64 * 1024 ? 64 : 100_000);

/** The feed's request on the stream layer. */
export function feedRequest(count, size) {
  const msg = new Uint8Array(8);
  const view = new DataView(msg.buffer);
  view.setUint32(0, count, true);
  view.setUint32(4, size, true);
  return msg;
}

export function readFeedRequest(msg) {
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  return { count: view.getUint32(0, true), size: view.getUint32(4, true) };
}

/**
 * The item every server sends, made once: the benchmark measures the stream, not filling
 * buffers. Large items are filled, so no layer can take a shortcut on zeros.
 */
export const feedItem = (size) => new Uint8Array(size).fill(0xa5);
