import { plainBytes } from '@skein/core';
import { libraryCodec, type CodecLibrary } from '@skein/test-utils';
import type { MsgpackOptions } from '../src/index.js';
import { libraryCoders } from '../src/library-coders.js';

/**
 * The codec as it was before its fast path: the library alone, set up as the codec sets it up
 * (its own string writer too, not library-strings.ts), its errors wrapped the same way.
 */
export function referenceCodec(options: MsgpackOptions): CodecLibrary {
  const { encoder, decoder } = libraryCoders({ ...options, libraryStrings: true });
  return libraryCodec('msgpack', { encode: (value) => encoder.encode(value), decode: (bytes) => decoder.decode(plainBytes(bytes)) });
}
