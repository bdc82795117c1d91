import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@skein/core';
import { randomPlain, sameValue, seededRandom, u32be } from '@skein/test-utils';
import { msgpack, msgpackCodec } from '../src/index.js';
import { libraryCoders } from '../src/library-coders.js';
import { MSGPACK_VALUES } from './random-msgpack.js';

/**
 * maxContainers: a message may make so many arrays, maps and extension values, empty ones too.
 * A 16 MiB message of empty maps (one byte each) made 16.7 million objects: 29 s of blocked
 * event loop and 1 GB of heap for one message of the default frame size.
 */

/** An array 32 of the values `head` (each a value's bytes), then `items` one-byte values `item`, then the value `tail`. */
function arrayOf(items: number, item: number, head: number[][] = [], tail: number[] = []): Uint8Array {
  // Each head value written where it goes, not flattened into one array first: 600 Ki values
  // flattened and copied took longer than decoding them.
  const headLength = head.reduce((n, value) => n + value.length, 0);
  const bytes = new Uint8Array(5 + headLength + items + tail.length);
  bytes.set([0xdd, ...u32be(head.length + items + (tail.length > 0 ? 1 : 0))]);
  let at = 5;
  for (const value of head) {
    bytes.set(value, at);
    at += value.length;
  }
  bytes.fill(item, at, at + items);
  bytes.set(tail, at + items);
  return bytes;
}

/** 0xc1, a byte msgpack never uses: a decoder that reads it has read every container before it. */
const NEVER_USED = [0xc1];
/** A timestamp 32 (1 s): a Date, which the fast path leaves to the library, so the message goes there. */
const DATE = [0xd6, 0xff, 0x00, 0x00, 0x00, 0x01];

const overBudget = (maxContainers: number): unknown =>
  expect.objectContaining({ code: ErrorCode.Decode, message: expect.stringContaining(`more than maxContainers (${maxContainers})`) });
const malformed = expect.objectContaining({ code: ErrorCode.Decode, message: expect.stringContaining('0xc1') });

/** A text string of 2 bytes or more: one the decoder makes a new string for. */
const counted = (text: string): boolean => Buffer.byteLength(text) >= 2;

/**
 * Arrays, plain objects, byte strings and text strings of 2 bytes or more in a plain value, as
 * maxContainers counts them: `fewest` counts no map key of 1 to 16 bytes (the key cache held
 * them all), `most` counts each (the cache held none).
 */
function containers(value: unknown): { fewest: number; most: number } {
  if (typeof value === 'string') return { fewest: +counted(value), most: +counted(value) };
  if (value instanceof Uint8Array) return { fewest: 1, most: 1 };
  if (value === null || typeof value !== 'object') return { fewest: 0, most: 0 };
  const n = { fewest: 1, most: 1 };
  const entries: [string | undefined, unknown][] = Array.isArray(value) ? Array.from(value as unknown[], (item) => [undefined, item]) : Object.entries(value);
  for (const [key, item] of entries) {
    const inner = containers(item);
    const bytes = key === undefined ? 0 : Buffer.byteLength(key);
    n.fewest += inner.fewest + (bytes > 16 ? 1 : 0);
    n.most += inner.most + (bytes > 16 ? 1 : bytes > 0 ? 1 : 0);
  }
  return n;
}

/**
 * expect(actual).toEqual(expected), its walk skipped where test-utils' sameValue (stricter than
 * toStrictEqual) already holds: toEqual's walk of the random values was most of a test's time.
 */
function equal(actual: unknown, expected: unknown): void {
  if (!sameValue(actual, expected, 'contents')) expect(actual).toEqual(expected);
}

/** An array 32 of `items` empty byte strings (bin 8 of length 0, two bytes each), after the values `head`. */
function emptyBins(items: number, head: number[][] = []): Uint8Array {
  const first = head.flat();
  const bytes = new Uint8Array(5 + first.length + 2 * items);
  bytes.set([0xdd, ...u32be(head.length + items)]);
  bytes.set(first, 5);
  for (let at = 5 + first.length; at < bytes.length; at += 2) bytes[at] = 0xc4;
  return bytes;
}

/** An array 32 of the values `head`, then `items` copies of the string `text` (its bytes), then the value `tail`. */
function strings(items: number, text: number[], head: number[][] = [], tail: number[] = []): Uint8Array {
  const first = head.flat();
  const bytes = new Uint8Array(5 + first.length + items * text.length + tail.length);
  bytes.set([0xdd, ...u32be(head.length + items + (tail.length > 0 ? 1 : 0))]);
  bytes.set(first, 5);
  for (let i = 0, at = 5 + first.length; i < items; i++, at += text.length) bytes.set(text, at);
  bytes.set(tail, bytes.length - tail.length);
  return bytes;
}

describe('msgpack maxContainers', () => {
  it('refuses a 16 MiB message of 16.7 million empty maps with a Decode error naming maxContainers', () => {
    const bytes = arrayOf((16 << 20) - 5, 0x80);
    expect(() => msgpackCodec.decode(bytes)).toThrow(overBudget(1 << 20));
  });

  it('counts byte strings, empty ones too: a 16 MiB message of 8.4 million empty bins is refused, not 900 MB of Uint8Arrays', () => {
    expect(() => msgpackCodec.decode(emptyBins(((16 << 20) - 5) >> 1))).toThrow(overBudget(1 << 20));
    const codec = msgpack({ maxContainers: 1000 });
    // Fast path: the outer array and 999 bins, at the budget; one more is over.
    expect(codec.decode(emptyBins(999))).toHaveLength(999);
    expect(() => codec.decode(emptyBins(1000))).toThrow(overBudget(1000));
    // Library path (a Date sends the message there): the outer array, the Date and 998 bins.
    expect(codec.decode(emptyBins(998, [DATE]))).toHaveLength(999);
    expect(() => codec.decode(emptyBins(999, [DATE]))).toThrow(overBudget(1000));
    // bin 16 and bin 32 alike.
    expect(() => codec.decode(arrayOf(0, 0, [DATE, ...new Array<number[]>(999).fill([0xc5, 0, 0])]))).toThrow(overBudget(1000));
    expect(() => codec.decode(arrayOf(0, 0, new Array<number[]>(1000).fill([0xc6, 0, 0, 0, 0])))).toThrow(overBudget(1000));
  });

  it('stops at the budget on the fast path: the byte after the container over it is never read', () => {
    const codec = msgpack({ maxContainers: 1000 });
    // The outer array and 999 maps: 1000, at the budget, so the decoder reads on to 0xc1.
    expect(() => codec.decode(arrayOf(999, 0x80, [], NEVER_USED))).toThrow(malformed);
    expect(() => codec.decode(arrayOf(1000, 0x80, [], NEVER_USED))).toThrow(overBudget(1000));
    expect(() => codec.decode(arrayOf(1000, 0x90, [], NEVER_USED))).toThrow(overBudget(1000));
  });

  it('stops at the budget on the library path, extension values counting one each', () => {
    const codec = msgpack({ maxContainers: 1000 });
    // The outer array, the Date, and 998 maps: 1000.
    expect(() => codec.decode(arrayOf(998, 0x80, [DATE], NEVER_USED))).toThrow(malformed);
    expect(() => codec.decode(arrayOf(999, 0x80, [DATE], NEVER_USED))).toThrow(overBudget(1000));
    expect(() => codec.decode(arrayOf(999, 0x90, [DATE], NEVER_USED))).toThrow(overBudget(1000));
    // Unknown extensions (ExtData objects) count too: fixext 1 of type 9.
    const unknown = [0xd4, 0x09, 0x00];
    expect(() => codec.decode(arrayOf(0, 0x80, [DATE, ...new Array<number[]>(998).fill(unknown)], NEVER_USED))).toThrow(malformed);
    expect(() => codec.decode(arrayOf(0, 0x80, [DATE, ...new Array<number[]>(999).fill(unknown)], NEVER_USED))).toThrow(overBudget(1000));
  });

  it('decodes a message exactly at the budget, on both paths, and refuses one more', () => {
    const codec = msgpack({ maxContainers: 1000 });
    expect(codec.decode(arrayOf(999, 0x80))).toHaveLength(999);
    expect(() => codec.decode(arrayOf(1000, 0x80))).toThrow(overBudget(1000));
    const viaLibrary = codec.decode(arrayOf(998, 0x90, [DATE])) as unknown[];
    expect(viaLibrary[0]).toEqual(new Date(1000));
    expect(viaLibrary).toHaveLength(999);
    expect(() => codec.decode(arrayOf(999, 0x90, [DATE]))).toThrow(overBudget(1000));
    // The default: 1 Mi containers pass.
    expect(msgpackCodec.decode(arrayOf((1 << 20) - 1, 0x80))).toHaveLength((1 << 20) - 1);
    expect(() => msgpackCodec.decode(arrayOf(1 << 20, 0x80))).toThrow(overBudget(1 << 20));
  });

  it('counts a Set, a Map and their payloads, and the pairs of a Map, with the message around them', () => {
    const codec = msgpack({ maxContainers: 10 });
    // Set: the extension, its payload array, 8 empty arrays.
    const set = new Set(Array.from({ length: 8 }, () => []));
    expect(codec.decode(msgpackCodec.encode(set))).toEqual(set);
    expect(() => codec.decode(msgpackCodec.encode(new Set(Array.from({ length: 9 }, () => []))))).toThrow(overBudget(10));
    // Map: the extension, its payload array, a pair per entry, and a key or value container.
    const map = new Map<unknown, unknown>([[1, 2], [3, 4], [5, 6], [[], 7]]);
    expect(codec.decode(msgpackCodec.encode(map))).toEqual(map); // 1 + 1 + 4 + 1 = 7
    expect(codec.decode(msgpackCodec.encode([map, [], {}]))).toEqual([map, [], {}]); // 10
    expect(() => codec.decode(msgpackCodec.encode([map, [], {}, []]))).toThrow(overBudget(10));
    // A Set in a Set in a Set: one count runs through the payloads' decoders.
    const nested = new Set([new Set([new Set([[], []])])]);
    expect(codec.decode(msgpackCodec.encode([nested, []]))).toEqual([nested, []]); // 1 + 3 * 2 + 2 + 1 = 10
    expect(() => codec.decode(msgpackCodec.encode([nested, [], []]))).toThrow(overBudget(10));
  });

  it('counts every plain container alike on the fast path and in the library decoder', () => {
    const random = seededRandom(0xc0417);
    for (let i = 0; i < 300; i++) {
      const value = randomPlain(random, MSGPACK_VALUES);
      const bytes = msgpackCodec.encode(value);
      // Map keys count when the key cache reads them anew, which depends on the messages before.
      const { fewest, most } = containers(value);
      if (most === 0) continue;
      const want = msgpackCodec.decode(bytes);
      equal(msgpack({ maxContainers: most }).decode(bytes), want);
      equal(libraryCoders({ maxContainers: most }).decoder.decode(bytes), want);
      if (fewest > 1) {
        expect(() => msgpack({ maxContainers: fewest - 1 }).decode(bytes)).toThrow(overBudget(fewest - 1));
        expect(() => libraryCoders({ maxContainers: fewest - 1 }).decoder.decode(bytes)).toThrow(/more than maxContainers/);
      }
    }
  });

  it('counts text strings of 2 bytes or more: 2 Mi two-character strings (6 MiB) are refused, on both paths, not 12x their bytes of heap', () => {
    const twoMi = strings(2 << 20, [0xa2, 0x61, 0x62]);
    expect(() => msgpackCodec.decode(twoMi)).toThrow(overBudget(1 << 20));
    expect(() => msgpackCodec.decode(strings(2 << 20, [0xa2, 0x61, 0x62], [DATE]))).toThrow(overBudget(1 << 20));
    // As values in maps: 600 Ki maps {a: 'xy', b: 'zw'} are 600 Ki containers, but 1.8 Mi objects
    // (and 1.2 Mi keys, over the default maxMapKeys: lifted, to see the strings counted).
    const pairs = [0x82, 0xa1, 0x61, 0xa2, 0x78, 0x79, 0xa1, 0x62, 0xa2, 0x7a, 0x77];
    const anyKeys = msgpack({ maxMapKeys: Infinity });
    expect(() => anyKeys.decode(arrayOf(0, 0, new Array<number[]>(600 << 10).fill(pairs)))).toThrow(overBudget(1 << 20));
    expect(() => anyKeys.decode(arrayOf(0, 0, [DATE, ...new Array<number[]>(600 << 10).fill(pairs)]))).toThrow(overBudget(1 << 20));
  });

  it('stops at the budget on both paths for strings of every form (fixstr, str 8, 16, 32)', () => {
    const codec = msgpack({ maxContainers: 1000 });
    for (const text of [[0xa2, 0x61, 0x62], [0xd9, 2, 0x61, 0x62], [0xda, 0, 2, 0x61, 0x62], [0xdb, 0, 0, 0, 2, 0x61, 0x62], [0xa2, 0xc3, 0xa9]]) {
      // Fast path: the outer array and 999 strings, at the budget; then 0xc1 is read.
      expect(() => codec.decode(strings(999, text, [], NEVER_USED)), `${text}`).toThrow(malformed);
      expect(() => codec.decode(strings(1000, text, [], NEVER_USED)), `${text}`).toThrow(overBudget(1000));
      // Library path: the outer array, the Date and 998 strings.
      expect(() => codec.decode(strings(998, text, [DATE], NEVER_USED)), `${text}`).toThrow(malformed);
      expect(() => codec.decode(strings(999, text, [DATE], NEVER_USED)), `${text}`).toThrow(overBudget(1000));
    }
    expect(codec.decode(strings(999, [0xa2, 0x61, 0x62]))).toEqual(new Array(999).fill('ab'));
    expect(codec.decode(strings(998, [0xa2, 0x61, 0x62], [DATE]))).toHaveLength(999);
  });

  it('does not count the empty string or 1-byte strings, which V8 does not allocate (it returns shared ones)', () => {
    const codec = msgpack({ maxContainers: 2 });
    for (const text of [[0xa0], [0xa1, 0x61], [0xa1, 0x80], [0xd9, 1, 0x7a], [0xdb, 0, 0, 0, 0]]) {
      expect(codec.decode(strings(5000, text)), `${text}`).toHaveLength(5000);
      expect(codec.decode(strings(5000, text, [DATE])), `${text}`).toHaveLength(5001);
    }
  });

  it('counts a map key when the key cache reads it anew, not a key it already holds', () => {
    const codec = msgpack({ maxContainers: 1000 });
    // 2000 distinct 3-byte keys in one map: the cache keeps 16 of each length, so each is read anew.
    const distinct = Array.from({ length: 2000 }, (_, i) => [0xa3, 0x21 + (i % 94), 0x21 + Math.floor(i / 94), 0x61, 0xc0]);
    const map = (entries: number[][], head: number[][] = []): Uint8Array =>
      Uint8Array.from([0xdf, ...u32be(entries.length + head.length), ...head.flatMap((value, i) => [0xa1, 0x41 + i, ...value]), ...entries.flat()]);
    expect(() => codec.decode(map(distinct))).toThrow(overBudget(1000));
    expect(() => codec.decode(map(distinct, [DATE]))).toThrow(overBudget(1000));
    // Keys longer than the cache keeps (16 bytes) are strings like the others, however often they come.
    const long = [0xb1, ...new Array<number>(17).fill(0x6b)];
    expect(() => codec.decode(arrayOf(0, 0, new Array<number[]>(999).fill([0x81, ...long, 0xc0])))).toThrow(overBudget(1000));
    expect(() => codec.decode(arrayOf(0, 0, [DATE, ...new Array<number[]>(999).fill([0x81, ...long, 0xc0])]))).toThrow(overBudget(1000));
    // The same key in 999 maps: the outer array, the maps, and the key read once at most.
    const same = new Array<number[]>(998).fill([0x81, 0xa2, 0x69, 0x64, 0xc0]);
    expect(codec.decode(arrayOf(0, 0, same))).toHaveLength(998);
    expect(codec.decode(arrayOf(0, 0, [DATE, ...same.slice(1)]))).toHaveLength(998);
  });

  it('reads the next message with the whole budget after refusing one, on both paths', () => {
    const codec = msgpack({ maxContainers: 100 });
    expect(() => codec.decode(arrayOf(200, 0x80))).toThrow(overBudget(100));
    expect(codec.decode(arrayOf(99, 0x80))).toHaveLength(99);
    expect(() => codec.decode(arrayOf(200, 0x80, [DATE]))).toThrow(overBudget(100));
    expect(codec.decode(arrayOf(97, 0x80, [DATE]))).toHaveLength(98);
  });

  it.each([0, -1, 1.5, Number.NaN, 2 ** 53])('maxContainers %s is refused with InvalidArgument', (maxContainers) => {
    expect(() => msgpack({ maxContainers })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument, message: expect.stringContaining('maxContainers') }));
  });

  it('maxContainers Infinity reads any number', () => {
    expect(msgpack({ maxContainers: Infinity }).decode(arrayOf(2 << 20, 0x80))).toHaveLength(2 << 20);
    expect(msgpack({ maxContainers: Infinity }).decode(arrayOf(2 << 20, 0x80, [DATE]))).toHaveLength((2 << 20) + 1);
  });
});
