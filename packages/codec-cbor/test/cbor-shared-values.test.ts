import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@skein/core';
import { Encoder } from 'cbor-x';
import { fromHex } from '@skein/test-utils';
import { cbor, cborCodec } from '../src/index.js';

/**
 * Tags 29 (a shared reference to a value tag 28 marked) and 51 (a table of packed values) are
 * refused: cbor-x hands back the same object at each reference, so a few hundred bytes made a
 * value of millions of leaves, or (tag 29) a cycle.
 */

/**
 * `[L0, L1, ..., Ln, bytes]`: L0 = 28([0, 0]), each next Lk = 28([29(k-1), 29(k-1)]), so Ln
 * holds 2^n leaves in 7 + 11n bytes; then a byte string of `tail` bytes, to pass 256 bytes.
 */
function sharedDoubling(n: number, tail = 0): Uint8Array {
  const bytes = [0x98, n + 2, 0xd8, 28, 0x82, 0, 0];
  for (let k = 1; k <= n; k++) bytes.push(0xd8, 28, 0x82, 0xd8, 29, 0x18, k - 1, 0xd8, 29, 0x18, k - 1);
  bytes.push(0x59, tail >> 8, tail & 255, ...new Array<number>(tail).fill(0));
  return new Uint8Array(bytes);
}

/**
 * n + 1 packed tables, each 51([values, prefixes, suffixes, rest]) with the next in its rest:
 * entry 16 of the first is 0, of each next [6(0), 6(0)], two references to entry 16 of the one
 * before; the innermost rest is 6(0). So the value holds 2^n leaves in about 28n bytes.
 */
function packedDoubling(n: number): Uint8Array {
  const bytes: number[] = [];
  for (let k = 0; k <= n; k++) {
    bytes.push(0xd8, 51, 0x84, 0x91, ...new Array<number>(16).fill(0xf6));
    bytes.push(...(k === 0 ? [0x00] : [0x82, 0xc6, 0x00, 0xc6, 0x00]), 0xf6, 0xf6);
  }
  bytes.push(0xc6, 0x00);
  return new Uint8Array(bytes);
}

const refused = (tag: number): unknown => expect.objectContaining({ code: ErrorCode.Decode, message: expect.stringContaining(`tag ${tag} not read`) });

describe('cbor values shared by reference (tags 29 and 51)', () => {
  it.each([
    ['small (read from the reused buffer)', 0],
    ['over 256 bytes (read in place)', 400],
  ])('refuses shared references, %s: 16 levels of doubling, 2^16 leaves from 200 bytes', (_, tail) => {
    expect(() => cborCodec.decode(sharedDoubling(16, tail))).toThrow(refused(29));
  });

  it('refuses packed tables: 16 levels of doubling, 2^16 leaves from 460 bytes', () => {
    expect(() => cborCodec.decode(packedDoubling(16))).toThrow(refused(51));
  });

  it('refuses a cycle: an array holding itself, an object holding itself', () => {
    expect(() => cborCodec.decode(fromHex('d81c 81 d81d00'))).toThrow(refused(29));
    expect(() => cborCodec.decode(fromHex('d81c a1 6161 d81d00'))).toThrow(refused(29));
  });

  it('refuses the tags in their longer forms, which cbor-x reads as well', () => {
    expect(() => cborCodec.decode(fromHex('d81c 81 d9001d 00'))).toThrow(refused(29));
    expect(() => cborCodec.decode(fromHex('d81c 81 da0000001d 00'))).toThrow(refused(29));
    expect(() => cborCodec.decode(fromHex('d81c 81 db000000000000001d 00'))).toThrow(refused(29));
    expect(() => cborCodec.decode(fromHex('d90033 84 81 01 f6 f6 e0'))).toThrow(refused(51));
  });

  it('refuses what a cbor-x Encoder writes with structuredClone for an object held twice, and with pack', () => {
    const shared = { a: 1 };
    const cloned = new Encoder({ structuredClone: true, useRecords: false }).encode([shared, shared, new Date(0)]);
    expect(() => cborCodec.decode(cloned)).toThrow(refused(29));
    const packed = new Encoder({ pack: true, useRecords: false }).encode(['hello world', 'hello world', { a: 'hello world' }]);
    expect(() => cborCodec.decode(packed)).toThrow(refused(51));
  });

  it('reads the bytes of the tags inside strings, floats and integers, and tags 28 and 6 alone, as before', () => {
    // A text string and a byte string holding d8 1d and d8 33, a float and a uint 16 ending 00 1d
    // and 00 33, beside tags (so cbor-x reads it all).
    const value = cborCodec.decode(fromHex('88 62d81d 42d833 fb00000000000000 1d 19001d 190033 c100 d81c 82 01 02 c6 00')) as unknown[];
    expect(value.slice(0, 7)).toEqual(['\ufffd\u001d', new Uint8Array([0xd8, 0x33]), 0x1d * 2 ** -1074, 0x1d, 0x33, new Date(0), [1, 2]]);
    expect(value[7]).toMatchObject({ tag: 6, value: 0 });
  });

  /**
   * `[L0, ..., Ln]` as sharedDoubling, each reference inside a cbor-x record 0xdfff whose length
   * head is 0x44: cbor-x reads it as an array's (4: the id, the keys [''] and two values, the
   * first the reference), a walk of heads as a byte string's, skipping the reference's head.
   */
  function recordHiddenDoubling(n: number): Uint8Array {
    const bytes = [0x98, n + 1, 0xd8, 28, 0x82, 0, 0];
    for (let k = 1; k <= n; k++) {
      const record = [0xd9, 0xdf, 0xff, 0x44, 0x00, 0x81, 0x60, 0xd8, 29, 0x18, k - 1, 0x00];
      bytes.push(0xd8, 28, 0x82, ...record, ...record);
    }
    return new Uint8Array(bytes);
  }

  it.each([
    ['small (read from the reused buffer)', 8],
    ['over 256 bytes (read in place)', 30],
  ])("refuses a reference behind a cbor-x record's length head cbor-x reads as an array's, %s", (_, n) => {
    // 817 bytes (n = 30) made 2^30 leaves; re-encoding one level of 22 wrote 142 MB.
    expect(() => cborCodec.decode(recordHiddenDoubling(n))).toThrow(expect.objectContaining({ code: ErrorCode.Decode }));
    // A cycle: an array holding a record that holds the array.
    expect(() => cborCodec.decode(fromHex('d81c 81 d9dfff 44 00 81 60 d81d00 00'))).toThrow(expect.objectContaining({ code: ErrorCode.Decode }));
  });

  it.each([
    // Record 0 defined with keys ['a'] (value 1), then referred to (0xe000) with a head 0x41.
    ["a defined record's reference", 'd81c 82 d9dfff 83 19e000 81 6161 01 d9e000 41 d81d00'],
    // Two empty bundled strings at offset 8: cbor-x skips the raw bytes `03 5a ffff` of an extra
    // entry, then reads 29(0), where a walk of heads read a byte string of 4 GiB.
    ['bundled strings', 'd81c 81 d9dff9 83 08 03 5affff d81d00 6060'],
  ])('refuses a reference behind %s, which cbor-x reads its own way, in a message that may hold one', (_, hex) => {
    expect(() => cborCodec.decode(fromHex(hex))).toThrow(expect.objectContaining({ code: ErrorCode.Decode, message: expect.stringMatching(/cbor-x's (records|bundled strings)/) }));
  });

  it('reads records a default cbor-x Encoder writes, with the bytes of tag 29 inside their strings', () => {
    const blob = new Uint8Array([0xd8, 0x1d, 0x00, 0xd8, 0x33]);
    const value = [{ name: 'a\u0000\u001d', blob, n: 1 }, { name: 'b', blob, n: 2 }];
    const bytes = new Encoder({ tagUint8Array: false }).encode(value);
    expect(Buffer.from(bytes).includes(Buffer.from([0xd9, 0xdf, 0xff]))).toBe(true);
    expect(cborCodec.decode(bytes)).toEqual(value);
    expect(cborCodec.decode(cborCodec.encode({ blob, f: 0x1d * 2 ** -1074 }))).toEqual({ blob, f: 0x1d * 2 ** -1074 });
  });

  it('refuses them with every option set as well', () => {
    const codec = cbor({ maxDepth: 100, maxContainers: 1000, maxMapKeys: 1000, variableMapSize: true });
    expect(() => codec.decode(sharedDoubling(16, 400))).toThrow(refused(29));
    expect(() => codec.decode(packedDoubling(16))).toThrow(refused(51));
  });
});
