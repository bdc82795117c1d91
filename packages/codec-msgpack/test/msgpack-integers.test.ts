import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@skein/core';
import { Decoder, Encoder, ExtData, decode as libraryDecode } from '@msgpack/msgpack';
import { fromHex, hex } from '@skein/test-utils';
import { msgpack, msgpackCodec } from '../src/index.js';
import { readSafeIntegers, writeSafeIntegers } from '../src/safe-integers.js';

const SAFE = Number.MAX_SAFE_INTEGER;

// Byte strings from razor-rpc 0.3 (rmp_serde::to_vec_named), issue 13: razor writes every
// integer in its smallest form, 2^32 and above as uint 64, and reads only integers into an i64.
const RAZOR_2_POW_40 = '82 a1 61 cf 00 00 01 00 00 00 00 00 a1 62 01'; // { a: 2^40, b: 1 }
const FLOAT_2_POW_40 = '82 a1 61 cb 42 70 00 00 00 00 00 00 a1 62 01'; // what Skein used to send

describe('msgpack integers, as razor-rpc writes and reads them', () => {
  it("reads razor-rpc's { a: 2^40, b: 1 } as numbers", () => {
    const out = msgpackCodec.decode(fromHex(RAZOR_2_POW_40)) as { a: unknown; b: unknown };
    expect(out).toEqual({ a: 2 ** 40, b: 1 });
    expect(typeof out.a).toBe('number');
  });

  it('writes { a: 2^40, b: 1 } byte for byte as razor-rpc does, never as float 64', () => {
    expect(hex(msgpackCodec.encode({ a: 2 ** 40, b: 1 }))).toBe(RAZOR_2_POW_40.replaceAll(' ', ''));
    expect(hex(msgpackCodec.encode({ a: 2 ** 40, b: 1 }))).not.toBe(FLOAT_2_POW_40.replaceAll(' ', ''));
  });

  it('still reads the float 64 form of 2^40 (as another encoder may send it) as the number', () => {
    expect(msgpackCodec.decode(fromHex(FLOAT_2_POW_40))).toEqual({ a: 2 ** 40, b: 1 });
  });
});

// [value, its bytes]: each is written as these bytes, and these bytes read back as the value.
const exact: [string, unknown, string][] = [
  ['2^32 - 1', 2 ** 32 - 1, 'ce ffffffff'],
  ['2^32', 2 ** 32, 'cf 00000001 00000000'],
  ['2^40', 2 ** 40, 'cf 00000100 00000000'],
  ['2^53 - 1', SAFE, 'cf 001fffff ffffffff'],
  ['-2^31', -(2 ** 31), 'd2 80000000'],
  ['-2^31 - 1', -(2 ** 31) - 1, 'd3 ffffffff 7fffffff'],
  ['-2^32', -(2 ** 32), 'd3 ffffffff 00000000'],
  ['-2^40', -(2 ** 40), 'd3 ffffff00 00000000'],
  ['-(2^53 - 1)', -SAFE, 'd3 ffe00000 00000001'],
  ['2^53 as a number (not safe: float 64)', 2 ** 53, 'cb 43400000 00000000'],
  ['-2^53 as a number (not safe: float 64)', -(2 ** 53), 'cb c3400000 00000000'],
  ['2^64 as a number (float 64)', 2 ** 64, 'cb 43f00000 00000000'],
  ['1.5', 1.5, 'cb 3ff80000 00000000'],
  ['2^40 + 0.5', 2 ** 40 + 0.5, 'cb 42700000 00000800'],
  ['Infinity', Infinity, 'cb 7ff00000 00000000'],
  ['2^53 as a bigint', 2n ** 53n, 'cf 00200000 00000000'],
  ['-2^53 as a bigint', -(2n ** 53n), 'd3 ffe00000 00000000'],
  ['-2^53 - 1 as a bigint', -(2n ** 53n) - 1n, 'd3 ffdfffff ffffffff'],
  ['2^64 - 1 as a bigint', 2n ** 64n - 1n, 'cf ffffffff ffffffff'],
  ['-2^63 as a bigint', -(2n ** 63n), 'd3 80000000 00000000'],
];

describe('msgpack integer golden vectors', () => {
  it.each(exact)('%s is written as its bytes', (_, value, wire) => {
    expect(hex(msgpackCodec.encode(value))).toBe(wire.replaceAll(' ', ''));
  });

  it.each(exact)('%s is read back from its bytes with its type', (_, value, wire) => {
    const out = msgpackCodec.decode(fromHex(wire));
    expect(typeof out).toBe(typeof value);
    expect(out).toBe(value);
  });

  it('-0 is written as int 0 and comes back as 0', () => {
    expect(hex(msgpackCodec.encode(-0))).toBe('00');
    expect(Object.is(msgpackCodec.decode(fromHex('00')), 0)).toBe(true);
  });

  it('NaN is written as float 64 and comes back as NaN', () => {
    expect(hex(msgpackCodec.encode(NaN))).toBe('cb7ff8000000000000');
    expect(msgpackCodec.decode(fromHex('cb7ff8000000000000'))).toBeNaN();
  });

  it('a bigint within the safe integers is written as a 64-bit integer and comes back as a number', () => {
    expect(hex(msgpackCodec.encode(5n))).toBe('cf0000000000000005');
    expect(hex(msgpackCodec.encode(-5n))).toBe('d3fffffffffffffffb');
    expect(msgpackCodec.decode(fromHex('cf 00000000 00000005'))).toBe(5);
    expect(msgpackCodec.decode(fromHex('d3 ffffffff fffffffb'))).toBe(-5);
  });

  it('64-bit integers from another encoder: numbers within ±(2^53 - 1), bigints beyond', () => {
    const read = (wire: string): unknown => msgpackCodec.decode(fromHex(wire));
    expect(read('cf 00000000 00000000')).toBe(0);
    expect(read('d3 ffffffff ffffffff')).toBe(-1);
    expect(read('d3 00000000 00000007')).toBe(7);
    expect(read('d3 001fffff ffffffff')).toBe(SAFE);
    expect(read('d3 00200000 00000000')).toBe(2n ** 53n);
    expect(read('cf 00200000 00000001')).toBe(2n ** 53n + 1n);
    expect(read('d3 ffe00000 00000000')).toBe(-(2n ** 53n));
    expect(read('d3 7fffffff ffffffff')).toBe(2n ** 63n - 1n);
    expect(read('cf 80000000 00000000')).toBe(2n ** 63n);
  });
});

describe('msgpack integers inside arrays and maps', () => {
  it('writes wide integers in an array as 64-bit integers, and floats and bigints beside them', () => {
    const value = [2 ** 40, -(2 ** 40), 1.5, 2n ** 60n, 7];
    const wire = '95 cf0000010000000000 d3ffffff0000000000 cb3ff8000000000000 cf1000000000000000 07';
    expect(hex(msgpackCodec.encode(value))).toBe(wire.replaceAll(' ', ''));
    expect(msgpackCodec.decode(fromHex(wire))).toEqual(value);
  });

  it('reads a nested map of mixed 64-bit integers with a number or a bigint each', () => {
    // { id: 2^53 - 1, ids: [2^32, 2^63], inner: { n: -2^53 } }
    const wire =
      '83 a2 6964 cf001fffffffffffff' +
      ' a3 696473 92 cf0000000100000000 cf8000000000000000' +
      ' a5 696e6e6572 81 a1 6e d3ffe0000000000000';
    expect(msgpackCodec.decode(fromHex(wire))).toStrictEqual({
      id: SAFE,
      ids: [2 ** 32, 2n ** 63n],
      inner: { n: -(2n ** 53n) },
    });
  });

  it('reads a 64-bit map key within the safe integers as a number key, and refuses one beyond', () => {
    expect(msgpackCodec.decode(fromHex('81 cf0000010000000000 01'))).toEqual({ '1099511627776': 1 });
    expect(() => msgpackCodec.decode(fromHex('81 cf0020000000000000 01'))).toThrow(
      expect.objectContaining({ code: ErrorCode.Decode }),
    );
  });

  it('carries wide integers inside Map and Set payloads the same way', () => {
    const codec = msgpack();
    const map = new Map<unknown, unknown>([[2 ** 40, 2n ** 60n], ['s', new Set([-(2 ** 40), 2n ** 53n])]]);
    const encoded = codec.encode(map);
    const pairs = libraryDecode((libraryDecode(encoded) as ExtData).data as Uint8Array, { useBigInt64: true });
    expect((pairs as unknown[][])[0]![0]).toBe(2n ** 40n); // the library alone reads uint 64 as a bigint
    expect(codec.decode(encoded)).toEqual(map);
  });
});

describe('msgpack integers and library releases', () => {
  it('fails when it is set up, not later, on a library whose private methods it uses are gone', () => {
    const encoder = new Encoder();
    Object.defineProperty(encoder, 'writeI64', { value: undefined });
    expect(() => writeSafeIntegers(encoder)).toThrow(/Encoder#writeI64 not found/);
    const decoder = new Decoder();
    Object.defineProperty(decoder, 'readU64AsBigInt', { value: undefined });
    expect(() => readSafeIntegers(decoder)).toThrow(/Decoder#readU64AsBigInt not found/);
  });
});
