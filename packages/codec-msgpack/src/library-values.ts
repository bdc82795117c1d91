import type { Decoder } from '@msgpack/msgpack';
import type { ContainerBudget } from './container-budget.js';
import type { DecodeDepth } from './decode-depth.js';
import type { MapKeys } from './map-keys.js';
import { letGo } from './message-release.js';
import { replaceMethod, requireMethods } from './private-methods.js';

type Decode = (this: Decoder, bytes: Uint8Array) => unknown;

/** The library's private view of its decoder, for reading one value at an offset. */
interface DecoderInternals {
  bytes: Uint8Array;
  pos: number;
  setBuffer(bytes: Uint8Array): void;
  reinitializeState(): void;
  doDecodeSync(): unknown;
}

/**
 * The codec's outermost library decoder and the three counts of the message it reads
 * (maxContainers, maxMapKeys, maxDepth), which its payloads' decoders share (nesting.ts).
 *
 * A whole message it decodes (the reference the tests compare the codec with) starts every
 * count anew: one `decode` wrapper for the three. The codec's fast path (fast-decode.ts) hands
 * it instead each value it does not read itself (an extension value, a container too deep for
 * it, a malformed or truncated value) with the counts as the fast path left them, and reads on
 * after it with the counts as the library left them. So a message is read once: the library
 * used to read it again from its first byte, making every object the fast path had made before
 * it met the value (a map of 128 Ki distinct keys then a Date: twice the property stores).
 */
export class LibraryValues {
  /** The counts and the position after the value `read` returned. */
  containersLeft = 0;
  mapKeysLeft = 0;
  end = 0;
  private readonly internals: DecoderInternals;
  /** Whether the decoder is set up for the message being read (set in read(), cleared in release()). */
  private holding = false;

  constructor(
    readonly decoder: Decoder,
    private readonly budget: ContainerBudget,
    private readonly keys: MapKeys,
    private readonly depth: DecodeDepth,
  ) {
    requireMethods(decoder, ['setBuffer', 'reinitializeState', 'doDecodeSync']);
    this.internals = decoder as unknown as DecoderInternals;
    replaceMethod<Decode>(decoder, 'decode', (decode) =>
      function (bytes) {
        budget.left = budget.maxContainers;
        keys.left = keys.maxMapKeys;
        depth.open = 0;
        return decode.call(this, bytes);
      },
    );
  }

  /**
   * The value at `start` in `bytes`, inside `open` arrays and maps, read by the library with
   * the counts given; `end` and the counts then say where it ended and what is left.
   */
  read(bytes: Uint8Array, start: number, containersLeft: number, mapKeysLeft: number, open: number): unknown {
    const { budget, keys, depth, internals } = this;
    budget.left = containersLeft;
    keys.left = mapKeysLeft;
    depth.open = open;
    // Set up once per message, however many of its values come here (let go of in release()):
    // a value read leaves no state behind, and a value refused ends the message. Not by the
    // bytes' length or identity alone: a caller may reuse one Uint8Array, and one on a
    // resizable buffer changes length too, where the decoder's view of it would not.
    if (!this.holding || internals.bytes !== bytes) {
      internals.reinitializeState();
      internals.setBuffer(bytes);
      this.holding = true;
    }
    internals.pos = start;
    const value = internals.doDecodeSync();
    this.containersLeft = budget.left;
    this.mapKeysLeft = keys.left;
    this.end = internals.pos;
    return value;
  }

  /** Lets go of the message the fast path was reading, once it is read or refused. */
  release(): void {
    // Whatever its length: an empty view still holds its whole buffer.
    if (!this.holding) return;
    this.holding = false;
    letGo(this.decoder);
  }
}
