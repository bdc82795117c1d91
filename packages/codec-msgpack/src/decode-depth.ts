import { DecodeError, type Decoder } from '@msgpack/msgpack';
import { decoderStack, replaceMethod } from './private-methods.js';

type Push = (this: unknown, size: number) => void;
type Release = (this: unknown, state: unknown) => void;

/**
 * How deep the library's decoders may nest values: `maxDepth` levels, the message itself being
 * level 1, as the library's encoder counts them. Without it, a message of nested array headers
 * is read whatever its depth: the library's decoder loops rather than recurses, so its stack is
 * no limit, and it keeps a state object per level after the decode (a 16 MiB message of them
 * took 5 s and 2.5 GB, and left 1.5 GB held by the decoder).
 *
 * One count serves a decoder and those of the extension payloads it reads (nesting.ts), so a
 * Set inside a Set inside a Set cannot stack maxDepth levels per payload.
 */
export class DecodeDepth {
  /**
   * Arrays and maps open, in the outermost decoder and in those of the payloads within it: set
   * at the start of a message, or of a value the fast path hands over (library-values.ts). A
   * failed decode leaves its containers counted as open.
   */
  open = 0;

  constructor(readonly maxDepth: number) {}

  /** Makes `decoder` count the arrays and maps it opens, and refuse those too deep. */
  limit(decoder: Decoder): Decoder {
    const stack = decoderStack(decoder);
    const depth = this;
    const counted = (push: Push): Push =>
      function (size) {
        // A container opened at level open + 1 holds items at open + 2. An empty one is not
        // opened: the library reads it as a value, at a level its parent has already checked.
        if (depth.open + 2 > depth.maxDepth) throw new DecodeError(`values nested deeper than maxDepth (${depth.maxDepth})`);
        push.call(this, size);
        depth.open++;
      };
    replaceMethod<Push>(stack, 'pushArrayState', counted);
    replaceMethod<Push>(stack, 'pushMapState', counted);
    replaceMethod<Release>(stack, 'release', (release) =>
      function (state) {
        release.call(this, state);
        depth.open--;
      },
    );
    return decoder;
  }
}
