import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@skein/core';
import { joinBytes, joinedBytes, randomPlain, sameValue, seededRandom, show, u32be } from '@skein/test-utils';
import { msgpack, msgpackCodec } from '../src/index.js';
import { libraryCoders } from '../src/library-coders.js';
import { MSGPACK_VALUES } from './random-msgpack.js';

/**
 * maxMapKeys: how many keys the maps of one message may hold in all. V8 adds a key it has not
 * seen to an object in about 1.5 µs, whatever the map: a message of 1 Mi distinct keys (within
 * maxContainers, which counts each new key once) blocked the event loop 1.5–1.8 s, in one map
 * or in maps of 128 Ki (`benchmarks/codec-hostile.js`). Counts only here: timing decides no test.
 */

const DEFAULT = 1 << 17;
/** A timestamp 32: a Date, which sends the whole message to the library decoder. */
const DATE = [0xd6, 0xff, 0x00, 0x00, 0x00, 0x01];
/** 0xc1, a byte msgpack never uses: a decoder that reads it has read everything before it. */
const NEVER_USED = [0xc1];

const tooManyKeys = (max: number): unknown =>
  expect.objectContaining({ code: ErrorCode.Decode, message: expect.stringContaining(`more than maxMapKeys (${max})`) });
const malformed = expect.objectContaining({ code: ErrorCode.Decode, message: expect.stringContaining('0xc1') });

/** The `i`th of many distinct 3-byte keys, as a fixstr. */
const distinctKey = (i: number): number[] => [0xa3, 0x21 + (i % 94), 0x21 + (Math.floor(i / 94) % 94), 0x21 + Math.floor(i / 8836)];

/** A map 32 of `entries` (each a key's and a value's bytes). */
const map = (entries: number[][]): number[] => joinBytes([0xdf, ...u32be(entries.length)], entries);

/** An array 32 of the values `items` (each a value's bytes). */
const array = (items: number[][]): Uint8Array => joinedBytes([0xdd, ...u32be(items.length)], items);

/** `n` distinct keys, each with the value nil, from key number `from`. */
const distinct = (n: number, from = 0): number[][] => Array.from({ length: n }, (_, i) => [...distinctKey(from + i), 0xc0]);

describe('msgpack maxMapKeys', () => {
  it('refuses a message of 128 Ki + 1 distinct keys with a Decode error naming maxMapKeys, on both paths; 128 Ki pass', () => {
    // Within maxContainers (1 Mi), so the codec used to read it: 1.5 µs a key, and 8 times that
    // many within 16 MiB.
    expect(() => msgpackCodec.decode(array([map(distinct(DEFAULT + 1))]))).toThrow(tooManyKeys(DEFAULT));
    expect(() => msgpackCodec.decode(array([DATE, map(distinct(DEFAULT + 1))]))).toThrow(tooManyKeys(DEFAULT));
    // Split over two maps: the count is the message's.
    expect(() => msgpackCodec.decode(array([map(distinct(DEFAULT / 2)), map(distinct(DEFAULT / 2 + 1, DEFAULT / 2))]))).toThrow(tooManyKeys(DEFAULT));
    const atLimit = msgpackCodec.decode(array([map(distinct(DEFAULT / 2)), map(distinct(DEFAULT / 2, DEFAULT / 2))])) as object[];
    expect(atLimit.map((object) => Object.keys(object).length)).toEqual([DEFAULT / 2, DEFAULT / 2]);
    expect(Object.keys((msgpackCodec.decode(array([DATE, map(distinct(DEFAULT))])) as object[])[1]!)).toHaveLength(DEFAULT);
  });

  it('refuses the map at its header, before reading a key of it, on both paths', () => {
    const codec = msgpack({ maxMapKeys: 3 });
    const abc = [[0xa1, 0x61, 0x01], [0xa1, 0x62, 0x02], [0xa1, 0x63, 0x03]];
    expect(codec.decode(Uint8Array.from(map(abc)))).toEqual({ a: 1, b: 2, c: 3 });
    // A header claiming 4 keys, then a byte no decoder reads: the header is refused first.
    expect(() => codec.decode(Uint8Array.from([0x84, ...NEVER_USED]))).toThrow(tooManyKeys(3));
    expect(() => codec.decode(array([DATE, [0x84, ...NEVER_USED]]))).toThrow(tooManyKeys(3));
    // A header claiming 4 billion keys in 5 bytes: refused at once, not read as truncated.
    expect(() => codec.decode(Uint8Array.from([0xdf, 0xff, 0xff, 0xff, 0xff]))).toThrow(tooManyKeys(3));
    // At the limit, the decoder reads on to the byte after the map.
    expect(() => codec.decode(array([map(abc), NEVER_USED]))).toThrow(malformed);
    expect(() => codec.decode(array([DATE, map(abc), NEVER_USED]))).toThrow(malformed);
  });

  it('counts every key: repeated keys the key cache holds, and number keys', () => {
    const codec = msgpack({ maxMapKeys: 1000 });
    // One cached key 1001 times: one property, but 1001 stores (and free for maxContainers).
    const repeated = Array.from({ length: 1001 }, () => [0xa1, 0x61, 0xc0]);
    expect(() => codec.decode(Uint8Array.from(map(repeated)))).toThrow(tooManyKeys(1000));
    expect(codec.decode(Uint8Array.from(map(repeated.slice(1))))).toEqual({ a: null });
    // Number keys (the library reads them, as strings): uint 32 keys.
    const numbers = Array.from({ length: 1001 }, (_, i) => [0xce, ...u32be(100000 + i), 0xc0]);
    expect(() => codec.decode(Uint8Array.from(map(numbers)))).toThrow(tooManyKeys(1000));
    expect(Object.keys(codec.decode(Uint8Array.from(map(numbers.slice(1)))) as object)).toHaveLength(1000);
  });

  it('counts the maps inside Set and Map values with the message around them', () => {
    const codec = msgpack({ maxMapKeys: 4 });
    const twoKeys = { a: 1, b: 2 };
    expect(codec.decode(msgpackCodec.encode([new Set([twoKeys]), twoKeys]))).toEqual([new Set([twoKeys]), twoKeys]);
    expect(() => codec.decode(msgpackCodec.encode([new Set([twoKeys]), twoKeys, { c: 3 }]))).toThrow(tooManyKeys(4));
    expect(() => codec.decode(msgpackCodec.encode(new Map([[1, new Set([twoKeys, { ...twoKeys, c: 3 }])]])))).toThrow(tooManyKeys(4));
  });

  it('counts the same keys on the fast path and in the library decoder', () => {
    const random = seededRandom(0x6e75);
    let refused = 0;
    for (let i = 0; i < 300; i++) {
      const value = randomPlain(random, MSGPACK_VALUES);
      const bytes = msgpackCodec.encode(value);
      const keys = countKeys(value);
      if (keys === 0) continue;
      // Compared as sameValue does, more strictly than toEqual (prototypes, key order, -0) and
      // without its cost: byte arrays of kilobytes, compared by toEqual a byte at a time.
      const read = msgpackCodec.decode(bytes);
      for (const [path, got] of [['fast path', msgpack({ maxMapKeys: keys }).decode(bytes)], ['library', libraryCoders({ maxMapKeys: keys }).decoder.decode(bytes)]] as const) {
        if (!sameValue(got, read, 'contents')) expect.fail(`value ${i}, ${path}, maxMapKeys ${keys}: ${show(got)} vs ${show(read)}`);
      }
      if (keys === 1) continue; // 0 is no limit the codec takes
      expect(() => msgpack({ maxMapKeys: keys - 1 }).decode(bytes)).toThrow(tooManyKeys(keys - 1));
      expect(() => libraryCoders({ maxMapKeys: keys - 1 }).decoder.decode(bytes)).toThrow(/more than maxMapKeys/);
      refused++;
    }
    expect(refused).toBeGreaterThan(30);
  });

  it('takes Infinity for no limit, and refuses a limit that is not a positive integer', () => {
    const codec = msgpack({ maxMapKeys: Infinity });
    expect(Object.keys((codec.decode(array([map(distinct(DEFAULT + 1))])) as object[])[0]!)).toHaveLength(DEFAULT + 1);
    for (const maxMapKeys of [0, -1, 1.5, NaN]) {
      expect(() => msgpack({ maxMapKeys }), `${maxMapKeys}`).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument, message: expect.stringContaining('maxMapKeys') }));
    }
  });
});

/** The keys of every plain object in `value`. */
function countKeys(value: unknown): number {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return 0;
  const items = Array.isArray(value) ? (value as unknown[]) : Object.values(value);
  return (Array.isArray(value) ? 0 : items.length) + items.reduce<number>((n, item) => n + countKeys(item), 0);
}
