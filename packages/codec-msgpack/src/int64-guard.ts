import type { Encoder } from '@msgpack/msgpack';

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

interface BigIntWriter {
  encodeBigInt64(value: bigint): void;
}

/**
 * Makes `encoder` reject a bigint outside int64/uint64. The library writes bigints with
 * DataView.setBigInt64/setBigUint64, which wrap silently: 2n ** 64n would arrive as 0n. It
 * offers no hook for this, so the check wraps its (private) writer; if a library release
 * renames it, this throws at codec creation rather than letting wrapped values through.
 */
export function guardInt64(encoder: Encoder): Encoder {
  const writer = encoder as unknown as BigIntWriter;
  const write = writer.encodeBigInt64;
  if (typeof write !== 'function') {
    throw new Error('@msgpack/msgpack: Encoder#encodeBigInt64 not found; update int64-guard.ts for this release');
  }
  writer.encodeBigInt64 = function (value: bigint): void {
    if (value < INT64_MIN || value > UINT64_MAX) {
      throw new RangeError(`bigint ${value} is outside the 64-bit range msgpack can carry (-2^63 .. 2^64-1)`);
    }
    write.call(this, value);
  };
  return encoder;
}
