import type { Decoder } from '@msgpack/msgpack';
import { replaceMethod } from './private-methods.js';

/**
 * Binaries of up to this many bytes are decoded as copies, longer ones as views of the message.
 * V8 keeps a typed array of up to 64 bytes (typed_array_max_size_in_heap) on its own heap, and
 * the first view made of one moves its bytes off the heap (~0.3 µs, more GC): a copy that short
 * is made on the heap, costs no more than a view of a larger message, and keeps no message
 * alive. A longer copy would cost an ArrayBuffer of its own (~0.5 µs), so larger binaries stay views.
 */
export const COPIED_BINARY_BYTES = 64;

type DecodeBinary = (this: Decoder, byteLength: number, headOffset: number) => Uint8Array;
type DecodeExtension = (this: Decoder, size: number, headOffset: number) => unknown;

/**
 * Makes the library decoder's binaries follow COPIED_BINARY_BYTES as the fast path's do, so a
 * binary inside a value the library reads (a Map's, a Set's) is a copy or a view by its length
 * alone. An extension's payload, which the library reads with the same method, stays a view: its
 * decoder reads it at once (an unknown type's ExtData keeps it, as the library returns it).
 */
export function copySmallBinaries(decoder: Decoder): Decoder {
  let payload = false;
  replaceMethod<DecodeExtension>(decoder, 'decodeExtension', (decodeExtension) =>
    function (size, headOffset) {
      payload = true;
      try {
        return decodeExtension.call(this, size, headOffset);
      } finally {
        payload = false;
      }
    },
  );
  replaceMethod<DecodeBinary>(decoder, 'decodeBinary', (decodeBinary) =>
    function (byteLength, headOffset) {
      const bytes = decodeBinary.call(this, byteLength, headOffset);
      if (payload) {
        payload = false; // the extension's own payload; binaries its decoder reads are another decoder's
        return bytes;
      }
      // Uint8Array's own slice, a copy: a Node Buffer's slice is a view.
      return byteLength <= COPIED_BINARY_BYTES ? Uint8Array.prototype.slice.call(bytes) : bytes;
    },
  );
  return decoder;
}
