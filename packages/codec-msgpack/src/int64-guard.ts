import type { Encoder } from '@msgpack/msgpack';
import { replaceMethod } from './private-methods.js';

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

type WriteBigInt = (this: Encoder, value: bigint) => void;

/**
 * Makes `encoder` reject a bigint outside int64/uint64. The library writes bigints with
 * DataView.setBigInt64/setBigUint64, which wrap silently: 2n ** 64n would arrive as 0n.
 */
export function guardInt64(encoder: Encoder): Encoder {
  replaceMethod<WriteBigInt>(encoder, 'encodeBigInt64', (write) =>
    function (value) {
      if (value < INT64_MIN || value > UINT64_MAX) {
        throw new RangeError(`bigint ${value} is outside the 64-bit range msgpack can carry (-2^63 .. 2^64-1)`);
      }
      write.call(this, value);
    },
  );
  return encoder;
}
