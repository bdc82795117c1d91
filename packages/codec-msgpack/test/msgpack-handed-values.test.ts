import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@skein/core';
import { u32be } from '@skein/test-utils';
import { msgpack } from '../src/index.js';
import { keyCache } from '../src/key-cache.js';
import { libraryCoders } from '../src/library-coders.js';

/**
 * Values the fast path does not read itself (an extension value, nesting deeper than its 32
 * levels, a number map key) go to the library decoder one by one, inside a message the fast
 * path reads (src/library-values.ts). The message used to go to the library whole, to be read
 * again from its first byte after the fast path had made the same objects. Every limit counts
 * across the hand-over, both ways: what the fast path read before a handed value counts in the
 * library, and what the library read counts in the fast path after it.
 */

/** An array 32 of the values `items` (each a value's bytes). */
const array = (items: number[][]): Uint8Array => Uint8Array.from([0xdd, ...u32be(items.length), ...items.flat()]);
/** A timestamp 32 (1 s): a Date, an extension value. */
const DATE = [0xd6, 0xff, 0x00, 0x00, 0x00, 0x01];
/** A Set (extension 0) of `n` empty arrays: the extension, its payload array and n arrays count. */
const setOfEmptyArrays = (n: number): number[] => [0xc7, n + 1, 0x00, 0x90 + n, ...new Array<number>(n).fill(0x90)];
/** `levels` nested one-item arrays around `inner`: deeper than the fast path's 32 when levels > 31. */
const nested = (levels: number, inner: number[]): number[] => [...new Array<number>(levels).fill(0x91), ...inner];
/** A map 16 of `n` one-byte keys `k0`, `k1`… (distinct for n <= 94), each with the value nil. */
const keysMap = (n: number): number[] => [0xde, n >> 8, n & 255, ...Array.from({ length: n }, (_, i) => [0xa1, 0x21 + (i % 94), 0xc0]).flat()];
/** A fixmap of `n` number keys 0… (positive fixints), each with the value nil: the fast path reads number keys itself. */
const numberKeys = (n: number): number[] => [0x80 + n, ...Array.from({ length: n }, (_, i) => [i, 0xc0]).flat()];

const overBudget = (max: number): unknown =>
  expect.objectContaining({ code: ErrorCode.Decode, message: expect.stringContaining(`more than maxContainers (${max})`) });
const tooManyKeys = (max: number): unknown =>
  expect.objectContaining({ code: ErrorCode.Decode, message: expect.stringContaining(`more than maxMapKeys (${max})`) });
const tooDeep = (max: number): unknown =>
  expect.objectContaining({ code: ErrorCode.Decode, message: expect.stringContaining(`nested deeper than maxDepth (${max})`) });

describe('msgpack values handed to the library inside a message the fast path reads', () => {
  it('reads each byte once: a message of 2000 distinct keys, then a Date, makes each key once', () => {
    // 8-byte keys: the key cache keeps 16 of each length, so a second read would make each again.
    const entries = Array.from({ length: 2000 }, (_, i) => [0xa8, ...Buffer.from(`h${String(i).padStart(7, '0')}`), 0xc0]);
    const bytes = array([[0xde, ...[2000 >> 8, 2000 & 255], ...entries.flat()], DATE]);
    const codec = msgpack();
    const misses = keyCache.misses;
    const [map, date] = codec.decode(bytes) as [Record<string, null>, Date];
    expect(keyCache.misses - misses).toBe(2000);
    expect(Object.keys(map)).toHaveLength(2000);
    expect(date).toEqual(new Date(1000));
  });

  it('counts maxContainers on across a handed value, both ways', () => {
    const codec = msgpack({ maxContainers: 20 });
    // The outer array, 8 empty maps (fast path), then a Set of 9 arrays (library: 11): 20.
    expect(codec.decode(array([...new Array<number[]>(8).fill([0x80]), setOfEmptyArrays(9)]))).toHaveLength(9);
    expect(() => codec.decode(array([...new Array<number[]>(9).fill([0x80]), setOfEmptyArrays(9)]))).toThrow(overBudget(20));
    // The Set first (library), then empty maps (fast path, counting on from the library's count).
    expect(codec.decode(array([setOfEmptyArrays(9), ...new Array<number[]>(8).fill([0x80])]))).toHaveLength(9);
    expect(() => codec.decode(array([setOfEmptyArrays(9), ...new Array<number[]>(9).fill([0x80])]))).toThrow(overBudget(20));
    // Between two handed values, and after a refused message: each message starts with the whole budget.
    expect(codec.decode(array([DATE, ...new Array<number[]>(17).fill([0x80]), DATE]))).toHaveLength(19);
    expect(() => codec.decode(array([DATE, ...new Array<number[]>(18).fill([0x80]), DATE]))).toThrow(overBudget(20));
    expect(codec.decode(array([DATE, ...new Array<number[]>(17).fill([0x80]), DATE]))).toHaveLength(19);
  });

  it('counts once a container the fast path hands over at its header (at its 33rd level)', () => {
    const codec = msgpack({ maxContainers: 40, maxMapKeys: 10 });
    // The outer array, 32 nested arrays (the last one handed over), 7 empty maps: 40.
    expect(codec.decode(array([nested(32, [0xc0]), ...new Array<number[]>(7).fill([0x80])]))).toHaveLength(8);
    expect(() => codec.decode(array([nested(32, [0xc0]), ...new Array<number[]>(8).fill([0x80])]))).toThrow(overBudget(40));
    // A map handed over: the outer array, 31 arrays, the map, 7 empty maps: 40 containers; 4 + 6 keys.
    expect(codec.decode(array([nested(31, numberKeys(4)), ...new Array<number[]>(7).fill([0x80])]))).toHaveLength(8);
    expect(() => codec.decode(array([nested(31, numberKeys(4)), ...new Array<number[]>(8).fill([0x80])]))).toThrow(overBudget(40));
    expect(codec.decode(array([nested(31, numberKeys(4)), numberKeys(6)]))).toHaveLength(2);
    expect(() => codec.decode(array([nested(31, numberKeys(4)), numberKeys(7)]))).toThrow(tooManyKeys(10));
  });

  it('counts maxMapKeys on across a handed value, both ways', () => {
    const codec = msgpack({ maxMapKeys: 10 });
    // 6 keys read by the fast path, then 4 in a map below its 32 levels, read by the library.
    expect(codec.decode(array([keysMap(6), nested(32, keysMap(4))]))).toHaveLength(2);
    expect(() => codec.decode(array([keysMap(6), nested(32, keysMap(5))]))).toThrow(tooManyKeys(10));
    // The library first, then the fast path, counting on from the library's count.
    expect(codec.decode(array([nested(32, keysMap(4)), keysMap(6)]))).toHaveLength(2);
    expect(() => codec.decode(array([nested(32, keysMap(4)), keysMap(7)]))).toThrow(tooManyKeys(10));
    // Number keys count too, read by the fast path now.
    expect(codec.decode(array([numberKeys(6), nested(32, keysMap(4))]))).toHaveLength(2);
    expect(() => codec.decode(array([numberKeys(7), nested(32, keysMap(4))]))).toThrow(tooManyKeys(10));
  });

  it('counts maxDepth from the level of the handed value', () => {
    const codec = msgpack({ maxDepth: 40 });
    // Arrays at levels 1 to 39 and nil at 40: the library reads from level 33 on.
    expect(() => codec.decode(Uint8Array.from(nested(39, [0xc0])))).not.toThrow();
    expect(() => codec.decode(Uint8Array.from(nested(40, [0xc0])))).toThrow(tooDeep(40));
    // A Set the fast path hands over at level 4 (its items at 5), after a value it read.
    const shallow = msgpack({ maxDepth: 5 });
    const set = [0xc7, 2, 0x00, 0x91, 0xc0];
    expect(shallow.decode(array([[0x80], nested(2, set)]))).toEqual([{}, [[new Set([null])]]]);
    expect(() => shallow.decode(array([[0x80], nested(3, set)]))).toThrow(tooDeep(5));
  });

  it('reads a number key and the values around a handed one as the library reads the whole message', () => {
    const { decoder } = libraryCoders({});
    const bytes = Uint8Array.from([0x83, 0x01, 0xa1, 0x61, 0xa1, 0x62, ...DATE, 0xcb, ...new Uint8Array(new Float64Array([0.5]).buffer).reverse(), 0x90]);
    expect(msgpack().decode(bytes)).toEqual(decoder.decode(bytes));
    expect(msgpack().decode(bytes)).toEqual({ 1: 'a', b: new Date(1000), '0.5': [] });
  });

  it('the library decoder alone starts every count anew for each message, after a refused one too', () => {
    const { decoder } = libraryCoders({ maxContainers: 20, maxMapKeys: 10, maxDepth: 3 });
    for (let i = 0; i < 3; i++) {
      // Each at its limit, then one over it (a refused message leaves its containers open).
      expect(decoder.decode(array(new Array<number[]>(19).fill([0x90])))).toHaveLength(19);
      expect(() => decoder.decode(array(new Array<number[]>(20).fill([0x90])))).toThrow(/maxContainers \(20\)/);
      expect(decoder.decode(array([keysMap(10)]))).toHaveLength(1);
      expect(() => decoder.decode(array([keysMap(11)]))).toThrow(/maxMapKeys \(10\)/);
      expect(decoder.decode(Uint8Array.from(nested(2, [0xc0])))).toEqual([[null]]);
      expect(() => decoder.decode(Uint8Array.from(nested(3, [0xc0])))).toThrow(/maxDepth \(3\)/);
    }
  });
});

describe('msgpack map keys the fast path reads for the library, and messages it lets go of', () => {
  it('counts a map key cut short inside a UTF-8 sequence once for maxContainers, as the library does', () => {
    // The outer array, the map, its 2-byte key [0x61, 0xe2] (not kept by the key cache: a new string each time), the Date: 4.
    const bytes = array([[0x81, 0xa2, 0x61, 0xe2, ...DATE]]);
    const reference = libraryCoders({ maxContainers: 4 }).decoder;
    expect(reference.decode(bytes)).toHaveLength(1);
    expect(msgpack({ maxContainers: 4 }).decode(bytes)).toEqual(reference.decode(bytes));
    expect(() => msgpack({ maxContainers: 3 }).decode(bytes)).toThrow(overBudget(3));
  });

  it('refuses a map key cut short by the end of the message in the library\'s words, at maxContainers too', () => {
    // The map is the one container maxContainers 1 allows; its key claims 5 bytes, 2 follow.
    const bytes = Uint8Array.of(0x81, 0xa5, 0x61, 0x62);
    expect(() => libraryCoders({ maxContainers: 1 }).decoder.decode(bytes)).toThrow('Insufficient data');
    expect(() => msgpack({ maxContainers: 1 }).decode(bytes)).toThrow(expect.objectContaining({ code: ErrorCode.Decode, message: expect.stringContaining('Insufficient data') }));
  });

  it('reads a Uint8Array the caller reuses on a resizable buffer, after an empty message in it', () => {
    const buffer = new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer & { resize(n: number): void })(0, { maxByteLength: 64 });
    const bytes = new Uint8Array(buffer); // its length follows the buffer's
    const codec = msgpack();
    expect(() => codec.decode(bytes)).toThrow(expect.objectContaining({ code: ErrorCode.Decode }));
    buffer.resize(7);
    bytes.set([0x91, ...DATE]);
    expect(codec.decode(bytes)).toEqual([new Date(1000)]);
  });
});
