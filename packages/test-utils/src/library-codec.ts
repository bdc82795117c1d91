import { decodeError, encodeError } from '@skein/core';

/** What a codec library does, as a fast path's test calls it. */
export interface CodecLibrary {
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

/**
 * A codec as it was before its fast path: the library alone, its errors wrapped as the codec
 * wraps them (`encodeError`/`decodeError` for `format`), so that a differential test compares
 * the codec's errors with it too.
 */
export function libraryCodec(format: string, library: CodecLibrary): CodecLibrary {
  return {
    encode(value: unknown): Uint8Array {
      try {
        return library.encode(value);
      } catch (e) {
        throw encodeError(format, e);
      }
    },
    decode(bytes: Uint8Array): unknown {
      try {
        return library.decode(bytes);
      } catch (e) {
        throw decodeError(format, e);
      }
    },
  };
}
