import type { ClientStream } from '@skein/stream';
import { Action } from './contract.mjs';

/**
 * The first error an echo call gets once the server drains; echoes answered before then are
 * asked again. Gives up after `giveUpMs`, saying whether the server's listeners were still closing
 * (`closing()`): then the transport's `FrameListener.close()` is what holds the drain back.
 */
export async function refusedWhileDraining(stream: ClientStream, closing: () => number, giveUpMs: number): Promise<unknown> {
  const giveUpAt = performance.now() + giveUpMs;
  while (performance.now() < giveUpAt) {
    const refused = await stream.call(Action.echo).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (refused !== undefined) return refused;
  }
  const why =
    closing() > 0
      ? `: the transport's FrameListener.close() has not resolved, and the server drains only once it has (it must resolve once the listener stops accepting, without waiting for the connections it accepted)`
      : '';
  throw new Error(`calls were still answered ${giveUpMs} ms after close() began${why}`);
}
