import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@skein/core';
import { fromHex, seededRandom } from '@skein/test-utils';
import { cborCodec } from '../src/index.js';

function randomBigInt(byteLength: number): bigint {
  const random = seededRandom(byteLength);
  let v = 1n;
  for (let i = 0; i < byteLength; i++) v = (v << 8n) | BigInt(Math.floor(random() * 256));
  return v;
}

describe('cbor bignums (tags 2 and 3)', () => {
  it.each([2n ** 64n, -(2n ** 64n) - 1n, randomBigInt(4096), -randomBigInt(4096)])('%s comes back', (n) => {
    expect(cborCodec.decode(cborCodec.encode(n))).toBe(n);
  });

  it('reads leading zero bytes and an empty magnitude', () => {
    expect(cborCodec.decode(fromHex('c243000001'))).toBe(1n);
    expect(cborCodec.decode(fromHex('c240'))).toBe(0n);
    expect(cborCodec.decode(fromHex('c340'))).toBe(-1n);
  });

  it('refuses a bignum tag that holds no byte string, with a Decode error', () => {
    expect(() => cborCodec.decode(fromHex('c201'))).toThrow(expect.objectContaining({ code: ErrorCode.Decode }));
  });
});
