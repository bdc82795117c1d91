import type { FrameListener, Transport } from '@skein/core';

/** A transport whose listeners' closes are watched, and how many of them are still under way. */
export interface WatchedTransport {
  readonly transport: Transport;
  /** Listeners whose `close()` was called and has not resolved yet. */
  closing(): number;
}

/**
 * `inner`, with each listener's `close()` counted while it is under way: a listener whose close
 * waits for the connections it accepted (as `server.close(cb)` of Node's net and http2 does)
 * holds the server's close up to its `closeWaitMs`, then leaves the listener perhaps still
 * bound. The kit names it (`listenersClosed`), instead of only that the close hung.
 */
export function watchListenerCloses(inner: Transport): WatchedTransport {
  let closing = 0;
  const watched = (listener: FrameListener): FrameListener => ({
    get address() {
      return listener.address;
    },
    close: () => {
      closing++;
      return listener.close().finally(() => closing--);
    },
  });
  const transport: Transport = {
    name: inner.name,
    connect: (address, spec, options) => inner.connect(address, spec, options),
    listen: async (address, spec, accept, options) => watched(await inner.listen(address, spec, accept, options)),
    ...(inner.reloadTls && { reloadTls: (tls) => inner.reloadTls!(tls) }),
    ...(inner.tlsGeneration && { tlsGeneration: () => inner.tlsGeneration!() }),
  };
  return { transport, closing: () => closing };
}
