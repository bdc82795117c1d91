import type { ClientStream } from '@skein/stream';
import { Action } from './contract.mjs';

const HELD = `: the transport's FrameListener.close() has not resolved, and the server drains only once it has (it must resolve once the listener stops accepting, without waiting for the connections it accepted)`;

/**
 * The first error an echo call gets once the server drains; echoes answered before then are
 * asked again. Gives up after `giveUpMs`, saying whether the server's listeners were still closing
 * (`closing()`): then the transport's `FrameListener.close()` is what holds the drain back. A
 * refusal that comes while one is still closing fails too: the server gave up waiting for it.
 */
export async function refusedWhileDraining(stream: ClientStream, closing: () => number, giveUpMs: number): Promise<unknown> {
  const giveUpAt = performance.now() + giveUpMs;
  while (performance.now() < giveUpAt) {
    const refused = await stream.call(Action.echo).then(
      () => undefined,
      (e: unknown) => e,
    );
    // Refused while a listener close is still under way: the server gave up on it (closeWaitMs) and drains anyway.
    if (refused !== undefined && closing() === 0) return refused;
    if (refused !== undefined) throw new Error(`the server drained only once its closeWaitMs was over${HELD}`);
  }
  throw new Error(`calls were still answered ${giveUpMs} ms after close() began${closing() > 0 ? HELD : ''}`);
}
