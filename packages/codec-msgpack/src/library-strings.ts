import type { Encoder } from '@msgpack/msgpack';
import { replaceMethod, requireMethods } from './private-methods.js';
import { strHeaderSize, TEXT_ENCODER_THRESHOLD, textEncoder } from './library-utf8.js';

interface StringWriter {
  pos: number;
  bytes: Uint8Array;
  ensureBufferSizeToWrite(size: number): void;
  writeStringHeader(byteLength: number): void;
}

type EncodeString = (this: StringWriter, value: string) => void;

/**
 * Makes `encoder` write a long string (over TEXT_ENCODER_THRESHOLD units) with TextEncoder
 * alone: the library counts its UTF-8 bytes first with a JS loop (utf8Count) to size the
 * header and the buffer, and that loop cost 10 to 60 times the engine's encodeInto on ASCII (a
 * 1 MB string: 6 ms against 0.1 ms on Node 20), about 3 times on mixed text. The bytes are the library's: it writes such a
 * string with encodeInto too, and counts a lone surrogate as the three bytes of U+FFFD.
 * Shorter strings keep the library's own loop, whose lone surrogates differ.
 */
export function nativeStrings(encoder: Encoder): Encoder {
  requireMethods(encoder, ['ensureBufferSizeToWrite', 'writeStringHeader']);
  replaceMethod<EncodeString>(encoder, 'encodeString', (encodeString) =>
    function (value) {
      const length = value.length;
      if (length <= TEXT_ENCODER_THRESHOLD) return encodeString.call(this, value);
      // A byte a unit at least: room for that (the buffer grows as the library grows it), the
      // string placed after the header it would then get, and the header's largest form.
      this.ensureBufferSizeToWrite(5 + length);
      const guess = strHeaderSize(length);
      const at = this.pos + guess;
      let { read, written } = textEncoder.encodeInto(value, this.bytes.subarray(at, this.bytes.length - 5 + guess));
      if (read < length) {
        // encodeInto stops before a character that does not fit, never within a surrogate pair.
        this.ensureBufferSizeToWrite(5 + written + 3 * (length - read));
        written += textEncoder.encodeInto(value.substring(read), this.bytes.subarray(at + written)).written;
      }
      const header = strHeaderSize(written);
      if (header !== guess) this.bytes.copyWithin(this.pos + header, at, at + written);
      this.writeStringHeader(written);
      this.pos += written;
    },
  );
  return encoder;
}
