import { plainBytes } from '@skein/core';
import { libraryCodec, type BytesCompared, type CodecLibrary } from '@skein/test-utils';
import type { MsgpackOptions } from '../src/index.js';
import { libraryCoders } from '../src/library-coders.js';
import { COPIED_BINARY_BYTES } from '../src/small-binaries.js';

/**
 * The codec as it was before its fast path: the library alone, set up as the codec sets it up
 * (its own string writer too, not library-strings.ts), its errors wrapped the same way.
 */
export function referenceCodec(options: MsgpackOptions): CodecLibrary {
  const { encoder, decoder } = libraryCoders({ ...options, libraryStrings: true });
  return libraryCodec('msgpack', { encode: (value) => encoder.encode(value), decode: (bytes) => decoder.decode(plainBytes(bytes)) });
}

/** How the codec's decoded binaries compare with the reference's: short ones copies on both sides, longer ones views of the same bytes. */
export const DECODED_BYTES: BytesCompared = { copiedUpTo: COPIED_BINARY_BYTES };
