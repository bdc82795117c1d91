import type { Decoder, Encoder } from '@msgpack/msgpack';
import { replaceMethod, requireMethods } from './private-methods.js';

// Integral numbers within ±(2^53-1) travel as msgpack integers and come back as numbers;
// integers beyond that are bigints both ways. The library can do either half, not both: with
// useBigInt64 (which bigints need) it writes integers beyond 32 bits as float 64, which a peer
// reading an integer field (razor-rpc's i64) refuses, and reads every 64-bit integer as a
// bigint, which a handler doing arithmetic with numbers chokes on.

interface NumberWriter {
  writeU8(byte: number): void;
  writeU64(value: number): void;
  writeI64(value: number): void;
}

type WriteNumber = (this: NumberWriter, value: number) => void;

/**
 * Makes `encoder` write a safe integer beyond 32 bits as uint 64 / int 64. The library sends
 * every number it does not write as an integer of 32 bits or less through this method, so
 * the usual small integers never reach the extra check.
 */
export function writeSafeIntegers(encoder: Encoder): Encoder {
  requireMethods(encoder, ['writeU8', 'writeU64', 'writeI64']);
  replaceMethod<WriteNumber>(encoder, 'encodeNumberAsFloat', (writeFloat) =>
    function (value) {
      if (!Number.isSafeInteger(value)) {
        writeFloat.call(this, value);
      } else if (value >= 0) {
        this.writeU8(0xcf);
        this.writeU64(value);
      } else {
        this.writeU8(0xd3);
        this.writeI64(value);
      }
    },
  );
  return encoder;
}

interface WordReader {
  readU32(): number;
  readI32(): number;
}

type ReadInt64 = (this: WordReader) => number | bigint;

/** Makes `decoder` read uint 64 / int 64 as a number when it is a safe integer, else a bigint. */
export function readSafeIntegers(decoder: Decoder): Decoder {
  requireMethods(decoder, ['readU32', 'readI32']);
  replaceMethod<ReadInt64>(decoder, 'readU64AsBigInt', () =>
    function () {
      const high = this.readU32();
      return joinWords(high, this.readU32());
    },
  );
  replaceMethod<ReadInt64>(decoder, 'readI64AsBigInt', () =>
    function () {
      const high = this.readI32();
      return joinWords(high, this.readU32());
    },
  );
  return decoder;
}

/**
 * high * 2^32 + low, without allocating when the result is a safe integer. The fast decoder
 * (fast-decode.ts) reads 64-bit integers with it too.
 */
export function joinWords(high: number, low: number): number | bigint {
  // Rounding is monotonic: the sum is exact when the true value is safe, and at least 2^53 in
  // magnitude (so not safe) when it is not.
  const value = high * 2 ** 32 + low;
  return Number.isSafeInteger(value) ? value : (BigInt(high) << 32n) + BigInt(low);
}
