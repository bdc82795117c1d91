import type { Encoder } from '@msgpack/msgpack';
import { replaceMethod } from './private-methods.js';

type EncodeObject = (this: unknown, object: unknown, depth: number) => void;
type EncodeSharedRef = (this: Encoder, value: unknown) => Uint8Array;
type Encode = EncodeSharedRef;

/**
 * How deep the library's encoders may nest values, counted as the decoders count them
 * (decode-depth.ts): an extension payload starts at the level of its Map or Set, not at 1. The
 * library gives each payload an encoder of its own that counts from 1, so without this a Set
 * at level 99 could hold 100 more levels: bytes this codec's decoder refuses.
 */
export class EncodeDepth {
  /** Levels above the encoder at work: 0 in the outermost, the Map's or Set's level - 1 in a payload's. */
  private base = 0;
  /** The level of the object the encoder at work last began: the Map or Set when its payload is encoded. */
  private current = 0;

  constructor(readonly maxDepth: number) {}

  /** Makes `encoder` note the level of each object it writes (a Map or Set is one). */
  limit(encoder: Encoder): Encoder {
    const depth = this;
    replaceMethod<EncodeObject>(encoder, 'encodeObject', (encodeObject) =>
      function (object, level) {
        depth.current = depth.base + level;
        encodeObject.call(this, object, level);
      },
    );
    return encoder;
  }

  /**
   * Makes `encoder` one for whole values: its value is at level 1, even when it encodes from
   * within another encode (a getter in a value may encode with the same codec).
   */
  outermost(encoder: Encoder): Encoder {
    const depth = this;
    replaceMethod<Encode>(encoder, 'encode', (encode) =>
      function (value) {
        const base = depth.base;
        const current = depth.current;
        depth.base = 0;
        try {
          return encode.call(this, value);
        } finally {
          depth.base = base;
          depth.current = current;
        }
      },
    );
    return encoder;
  }

  /**
   * Makes `encoder` one for extension payloads: its payload is at the level of the extension
   * value, so it may nest maxDepth minus the levels above that. The library's own check
   * (`depth > maxDepth`, on every value) then refuses what the decoders would.
   */
  payload(encoder: Encoder): Encoder {
    const depth = this;
    const settable = encoder as unknown as { maxDepth: number };
    if (typeof settable.maxDepth !== 'number') throw new Error('@msgpack/msgpack: Encoder#maxDepth not found; update the codec for this release');
    replaceMethod<EncodeSharedRef>(encoder, 'encodeSharedRef', (encodeSharedRef) =>
      function (value) {
        const outer = depth.base;
        depth.base = depth.current - 1;
        settable.maxDepth = depth.maxDepth - depth.base;
        try {
          return encodeSharedRef.call(this, value);
        } finally {
          depth.base = outer;
        }
      },
    );
    return encoder;
  }
}
