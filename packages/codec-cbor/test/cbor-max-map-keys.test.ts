import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@skein/core';
import { joinBytes, joinedBytes, randomPlain, sameValue, seededRandom, show, u32be } from '@skein/test-utils';
import { cbor, cborCodec } from '../src/index.js';
import { CBOR_VALUES } from './random-cbor.js';

/**
 * maxMapKeys: how many keys the maps of one message may hold in all. V8 adds a key it has not
 * seen to an object in about 1.5 µs: cbor-x took 1.3–1.5 s for a map of 1 Mi distinct keys
 * (within maxContainers) and 2.4 s for a 16 MiB map of 2.8 million number keys, which
 * maxContainers does not count (`benchmarks/codec-hostile.js`). Counts only: timing decides no test.
 */

const DEFAULT = 1 << 17;
/** Tag 2 (a bignum) around an integer: cbor-x's reader of it throws, so a message holding it fails as soon as cbor-x reads it. */
const FAILS_WHEN_READ = [0xc2, 0x01];

const tooManyKeys = (max: number): unknown =>
  expect.objectContaining({ code: ErrorCode.Decode, message: expect.stringContaining(`more than maxMapKeys (${max})`) });
const readByCborx = expect.objectContaining({ code: ErrorCode.Decode, message: expect.stringContaining('bignum') });

/** The `i`th of many distinct 3-byte text keys. */
const distinctKey = (i: number): number[] => [0x63, 0x21 + (i % 94), 0x21 + (Math.floor(i / 94) % 94), 0x21 + Math.floor(i / 8836)];
/** `n` distinct keys, each with the value null, from key number `from`. */
const distinct = (n: number, from = 0): number[][] => Array.from({ length: n }, (_, i) => [...distinctKey(from + i), 0xf6]);
/** A map with a 32-bit count of `entries` (each a key's and a value's bytes). */
const map = (entries: number[][]): number[] => joinBytes([0xba, ...u32be(entries.length)], entries);
/** An indefinite-length map of `entries`. */
const indefiniteMap = (entries: number[][]): number[] => joinBytes([0xbf], [...entries, [0xff]]);
/** An array with a 32-bit count of the values `items` (each a value's bytes). */
const array = (items: number[][]): Uint8Array => joinedBytes([0x9a, ...u32be(items.length)], items);

describe('cbor maxMapKeys', () => {
  it('refuses a message of 128 Ki + 1 distinct keys with a Decode error naming maxMapKeys, before cbor-x reads it; 128 Ki pass', () => {
    expect(() => cborCodec.decode(array([map(distinct(DEFAULT + 1))]))).toThrow(tooManyKeys(DEFAULT));
    // Before anything is read: a value cbor-x fails on, first in the message, is never read.
    expect(() => cborCodec.decode(array([FAILS_WHEN_READ, map(distinct(DEFAULT + 1))]))).toThrow(tooManyKeys(DEFAULT));
    // Split over two maps: the count is the message's.
    expect(() => cborCodec.decode(array([map(distinct(DEFAULT / 2)), map(distinct(DEFAULT / 2 + 1, DEFAULT / 2))]))).toThrow(tooManyKeys(DEFAULT));
    const atLimit = cborCodec.decode(array([map(distinct(DEFAULT / 2)), map(distinct(DEFAULT / 2, DEFAULT / 2))])) as object[];
    expect(atLimit.map((object) => Object.keys(object).length)).toEqual([DEFAULT / 2, DEFAULT / 2]);
  });

  it('counts every key: number keys and 1-character ones, which maxContainers does not count', () => {
    const codec = cbor({ maxMapKeys: 1000 });
    const numbers = Array.from({ length: 1001 }, (_, i) => [0x1a, ...u32be(100000 + i), 0xf6]);
    expect(() => codec.decode(Uint8Array.from(map(numbers)))).toThrow(tooManyKeys(1000));
    expect(Object.keys(codec.decode(Uint8Array.from(map(numbers.slice(1)))) as object)).toHaveLength(1000);
    const repeated = Array.from({ length: 1001 }, () => [0x61, 0x61, 0xf6]);
    expect(() => codec.decode(Uint8Array.from(map(repeated)))).toThrow(tooManyKeys(1000));
    expect(codec.decode(Uint8Array.from(map(repeated.slice(1))))).toEqual({ a: null });
  });

  it('counts the keys of indefinite-length maps, nested ones too, before cbor-x reads them', () => {
    const codec = cbor({ maxMapKeys: 1000 });
    const keys = (n: number, from = 0): number[][] => distinct(n, from);
    expect(() => codec.decode(array([FAILS_WHEN_READ, indefiniteMap(keys(1001))]))).toThrow(tooManyKeys(1000));
    expect(() => codec.decode(array([FAILS_WHEN_READ, indefiniteMap(keys(1000))]))).toThrow(readByCborx);
    expect(Object.keys(codec.decode(Uint8Array.from(indefiniteMap(keys(1000)))) as object)).toHaveLength(1000);
    // Values that are maps themselves, definite and not: 2 + 498 + 500 keys pass, one more does not.
    const nested = (extra: number): Uint8Array =>
      Uint8Array.from(indefiniteMap([[...distinctKey(0), ...map(keys(498 + extra, 1))], [...distinctKey(1), ...indefiniteMap(keys(500, 600))]]));
    expect(() => codec.decode(nested(0))).not.toThrow();
    expect(() => codec.decode(nested(1))).toThrow(tooManyKeys(1000));
    // Arrays of indefinite length are not maps: their items are no keys.
    expect(codec.decode(Uint8Array.from([0x9f, ...new Array<number>(5000).fill(0x01), 0xff]))).toHaveLength(5000);
  });

  it('counts what a plain value holds, through the fast path and cbor-x', () => {
    const random = seededRandom(0x6e76);
    let refused = 0;
    for (let i = 0; i < 300; i++) {
      const value = randomPlain(random, CBOR_VALUES);
      const bytes = cborCodec.encode(value);
      const keys = countKeys(value);
      if (keys < 2) continue;
      // Compared as sameValue does, more strictly than toEqual (prototypes, key order, -0) and
      // without its cost: byte strings of kilobytes, compared by toEqual a byte at a time.
      const [got, read] = [cbor({ maxMapKeys: keys }).decode(bytes), cborCodec.decode(bytes)];
      if (!sameValue(got, read, 'contents')) expect.fail(`value ${i}, maxMapKeys ${keys}: ${show(got)} vs ${show(read)}`);
      expect(() => cbor({ maxMapKeys: keys - 1 }).decode(bytes)).toThrow(tooManyKeys(keys - 1));
      refused++;
    }
    expect(refused).toBeGreaterThan(30);
  });

  it('takes Infinity for no limit, and refuses a limit that is not a positive integer', () => {
    const codec = cbor({ maxMapKeys: Infinity });
    expect(Object.keys((codec.decode(array([map(distinct(DEFAULT + 1))])) as object[])[0]!)).toHaveLength(DEFAULT + 1);
    for (const maxMapKeys of [0, -1, 1.5, NaN]) {
      expect(() => cbor({ maxMapKeys }), `${maxMapKeys}`).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument, message: expect.stringContaining('maxMapKeys') }));
    }
  });
});

/** The keys of every plain object in `value`. */
function countKeys(value: unknown): number {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return 0;
  const items = Array.isArray(value) ? (value as unknown[]) : Object.values(value);
  return (Array.isArray(value) ? 0 : items.length) + items.reduce<number>((n, item) => n + countKeys(item), 0);
}
