/**
 * Waits, while the server's connections are still open (calls running on them), for every
 * listener close it began to resolve (`closing()`, from `watchListenerCloses`). A
 * `FrameListener.close()` must resolve once the listener stops accepting, without waiting for
 * the connections it accepted (as the callback of Node's net and http2 `server.close(cb)`
 * does): the server's close waits for it, up to `closeWaitMs`, and then goes on with the
 * listener perhaps still bound. Fails after `giveUpMs`, naming the listener's close.
 */
export async function listenersClosed(closing: () => number, giveUpMs: number): Promise<void> {
  const giveUpAt = performance.now() + giveUpMs;
  while (closing() > 0) {
    if (performance.now() >= giveUpAt) {
      throw new Error(
        `the transport's FrameListener.close() has not resolved ${giveUpMs} ms after close() began, while connections it accepted are still open (it must resolve once the listener stops accepting, without waiting for them)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
