import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@skein/core';
import { Encoder, Tag } from 'cbor-x';
import { randomPlain, seededRandom, u32be } from '@skein/test-utils';
import { cbor, cborCodec } from '../src/index.js';
import { CBOR_VALUES } from './random-cbor.js';

/**
 * maxContainers: a message may hold so many arrays, maps and tags, empty ones too. A 16 MiB
 * message of empty arrays (one byte each) would make 16.7 million objects.
 */

/** An array 32 of the values `head` (each a value's bytes), then `items` one-byte values `item`. */
function arrayOf(items: number, item: number, head: number[][] = []): Uint8Array {
  const first = head.flat();
  const bytes = new Uint8Array(5 + first.length + items);
  bytes.set([0x9a, ...u32be(head.length + items)]);
  bytes.set(first, 5);
  bytes.fill(item, 5 + first.length);
  return bytes;
}

/** Tag 2 (a bignum) around an integer, not a byte string: cbor-x's reader of it throws, so a message holding it first fails as soon as cbor-x reads it. */
const FAILS_WHEN_READ = [0xc2, 0x01];

const overBudget = (maxContainers: number): unknown =>
  expect.objectContaining({ code: ErrorCode.Decode, message: expect.stringContaining(`more than maxContainers (${maxContainers})`) });
const readByCborx = expect.objectContaining({ code: ErrorCode.Decode, message: expect.stringContaining('bignum') });

/** Arrays, plain objects, byte strings and text strings of 2 bytes or more (map keys too) in a plain value, as maxContainers counts them. */
function containers(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value) >= 2 ? 1 : 0;
  if (ArrayBuffer.isView(value)) return 1;
  if (Array.isArray(value)) return 1 + Array.from(value as unknown[]).reduce<number>((n, item) => n + containers(item), 0);
  if (value !== null && typeof value === 'object') return 1 + Object.entries(value).reduce<number>((n, [key, item]) => n + containers(key) + containers(item), 0);
  return 0;
}

/** An array 32 of the values `head`, then `items` copies of the string `text` (its bytes). */
function strings(items: number, text: number[], head: number[][] = []): Uint8Array {
  const first = head.flat();
  const bytes = new Uint8Array(5 + first.length + items * text.length);
  bytes.set([0x9a, ...u32be(head.length + items)]);
  bytes.set(first, 5);
  for (let i = 0, at = 5 + first.length; i < items; i++, at += text.length) bytes.set(text, at);
  return bytes;
}

/** A Date (tag 1): the fast path leaves the message to cbor-x. */
const DATE = [0xc1, 0x01];

describe('cbor maxContainers', () => {
  it('refuses a 16 MiB message of 16.7 million empty arrays, and of empty maps, with a Decode error naming maxContainers', () => {
    for (const empty of [0x80, 0xa0]) {
      expect(() => cborCodec.decode(arrayOf((16 << 20) - 5, empty))).toThrow(overBudget(1 << 20));
    }
  });

  it('counts byte strings, empty ones too: a 16 MiB message of 16.7 million of them is refused, not 1.7 GB of Uint8Arrays', () => {
    expect(() => cborCodec.decode(arrayOf((16 << 20) - 5, 0x40))).toThrow(overBudget(1 << 20));
    const codec = cbor({ maxContainers: 1000 });
    expect(codec.decode(arrayOf(999, 0x40))).toHaveLength(999);
    expect(() => codec.decode(arrayOf(1000, 0x40))).toThrow(overBudget(1000));
    // Through cbor-x (a Date sends the message there): the outer array, the Date and 998 byte strings.
    expect(codec.decode(arrayOf(998, 0x40, [[0xc1, 0x01]]))).toHaveLength(999);
    expect(() => codec.decode(arrayOf(999, 0x40, [[0xc1, 0x01]]))).toThrow(overBudget(1000));
  });

  it('refuses before anything is decoded: cbor-x never reads the value that would fail first', () => {
    const codec = cbor({ maxContainers: 1000 });
    // The outer array, the tag, 998 arrays: 1000, so cbor-x reads it, and fails on the tag.
    expect(() => codec.decode(arrayOf(998, 0x80, [FAILS_WHEN_READ]))).toThrow(readByCborx);
    expect(() => codec.decode(arrayOf(999, 0x80, [FAILS_WHEN_READ]))).toThrow(overBudget(1000));
    expect(() => cborCodec.decode(arrayOf(1 << 20, 0xa0, [FAILS_WHEN_READ]))).toThrow(overBudget(1 << 20));
  });

  it('decodes a message exactly at the budget and refuses one more, through the fast path and through cbor-x', () => {
    const codec = cbor({ maxContainers: 1000 });
    // Fast path: plain arrays and maps of at most 64 KiB.
    expect(codec.decode(arrayOf(999, 0x80))).toHaveLength(999);
    expect(() => codec.decode(arrayOf(1000, 0x80))).toThrow(overBudget(1000));
    expect(() => codec.decode(arrayOf(1000, 0xa0))).toThrow(overBudget(1000));
    // cbor-x: a Date (tag 1) sends the message there.
    const date = [0xc1, 0x01];
    const read = codec.decode(arrayOf(998, 0xa0, [date])) as unknown[];
    expect(read[0]).toEqual(new Date(1000));
    expect(read).toHaveLength(999);
    expect(() => codec.decode(arrayOf(999, 0xa0, [date]))).toThrow(overBudget(1000));
    // The default, 1 Mi: a message longer than that is scanned, and at it decodes.
    expect(cborCodec.decode(arrayOf((1 << 20) - 1, 0x80))).toHaveLength((1 << 20) - 1);
    expect(() => cborCodec.decode(arrayOf(1 << 20, 0x80))).toThrow(overBudget(1 << 20));
  });

  it('counts every kind: indefinite lengths, and every tag (Date, Set, Map, bignum, typed array, unknown, cbor-x record)', () => {
    const cases: [string, Uint8Array, number][] = [
      ['indefinite arrays and maps', Uint8Array.of(0x9f, 0x9f, 0xff, 0xbf, 0xff, 0xff), 3],
      ['a Date', cborCodec.encode([new Date(1)]), 2],
      ['a Set of an array', cborCodec.encode(new Set([[1]])), 3], // tag 258, its array, [1]
      ['a Map of a map', cborCodec.encode(new Map([['a', {}]])), 3], // tag 259, its map, {}
      ['a bignum', cborCodec.encode([2n ** 80n]), 3], // the array, tag 2, its byte string
      ['a typed array', new Encoder().encode([new Uint16Array([1, 2])]), 3], // the array, tag 69, its byte string
      ['an unknown tag', Uint8Array.of(0x81, 0xd8, 0x64, 0x80), 3],
      ['a cbor-x record', new Encoder({ useRecords: true }).encode([{ a: 1 }]), 4], // the array, tag 0xdfff, its array, the keys
    ];
    for (const [what, bytes, n] of cases) {
      expect(bytes.length, what).toBeGreaterThan(n - 1); // so that a budget of n - 1 scans it
      expect(() => cbor({ maxContainers: n }).decode(bytes), what).not.toThrow();
      expect(() => cbor({ maxContainers: n - 1 }).decode(bytes), what).toThrow(overBudget(n - 1));
    }
    expect(cbor({ maxContainers: 3 }).decode(Uint8Array.of(0x81, 0xd8, 0x64, 0x80))).toEqual([new Tag([], 100)]);
  });

  it("refuses a cbor-x record whose length head is a byte string's, which cbor-x reads as an array's: the values after it were not counted", () => {
    // Record 0xdfff, its length head 0x5b (cbor-x: 27, no argument bytes; a count: a byte string
    // of 2^60 bytes, the rest of the message skipped), the id, the keys [], then 25 values: an
    // array of 4 Mi empty arrays (cbor-x made them all, past the default 1 Mi) and 24 zeros.
    const n = 4 << 20;
    const head = [0xd9, 0xdf, 0xff, 0x5b, 0x19, 0xe0, 0x00, 0x80, 0x9a, ...u32be(n)];
    const bytes = new Uint8Array(head.length + n + 24);
    bytes.set(head);
    bytes.fill(0x80, head.length, head.length + n);
    expect(() => cborCodec.decode(bytes)).toThrow(expect.objectContaining({ code: ErrorCode.Decode, message: expect.stringContaining("cbor-x's records") }));
    // A record as a cbor-x Encoder writes it is read as before, in a message the count scans.
    const records = new Encoder({ useRecords: true }).encode([{ a: 1 }, { a: 2 }, 'x'.repeat(64)]);
    expect(cbor({ maxContainers: 32 }).decode(records)).toEqual([{ a: 1 }, { a: 2 }, 'x'.repeat(64)]);
  });

  it('counts plain values as they are: at their number of arrays and objects they decode, one fewer they are refused', () => {
    const random = seededRandom(0xcb0c);
    for (let i = 0; i < 300; i++) {
      const value = randomPlain(random, CBOR_VALUES);
      const n = containers(value);
      if (n < 2) continue;
      const bytes = cborCodec.encode(value);
      expect(cbor({ maxContainers: n }).decode(bytes)).toEqual(cborCodec.decode(bytes));
      expect(() => cbor({ maxContainers: n - 1 }).decode(bytes)).toThrow(overBudget(n - 1));
    }
  });

  it('skips strings by their length: container bytes inside them do not count', () => {
    const text = 'x'.repeat(100) + '\u0080'.repeat(100); // 0x80 bytes in UTF-8 (0xc2 0x80)
    const bytes = cborCodec.encode([text, new Uint8Array(300).fill(0x80), [], {}]);
    // The array, the text and the byte string (one each, whatever they hold), [] and {}.
    expect(cbor({ maxContainers: 5 }).decode(bytes)).toEqual([text, new Uint8Array(300).fill(0x80), [], {}]);
    expect(() => cbor({ maxContainers: 4 }).decode(bytes)).toThrow(overBudget(4));
  });

  it('counts text strings of 2 bytes or more: 2 Mi two-character strings (6 MiB) are refused before cbor-x makes them', () => {
    expect(() => cborCodec.decode(strings(2 << 20, [0x62, 0x61, 0x62]))).toThrow(overBudget(1 << 20));
    expect(() => cborCodec.decode(strings(2 << 20, [0x62, 0x61, 0x62], [FAILS_WHEN_READ]))).toThrow(overBudget(1 << 20));
    // As values in maps: 600 Ki maps {a: 'xy', b: 'zw'} are 600 Ki containers, but 1.8 Mi objects
    // (and 1.2 Mi keys, over the default maxMapKeys: lifted, to see the strings counted).
    const pairs = [0xa2, 0x61, 0x61, 0x62, 0x78, 0x79, 0x61, 0x62, 0x62, 0x7a, 0x77];
    expect(() => cbor({ maxMapKeys: Infinity }).decode(strings(600 << 10, pairs))).toThrow(overBudget(1 << 20));
  });

  it('counts text strings of every form at the budget, through the fast path and cbor-x', () => {
    const codec = cbor({ maxContainers: 1000 });
    for (const text of [[0x62, 0x61, 0x62], [0x78, 2, 0x61, 0x62], [0x79, 0, 2, 0x61, 0x62], [0x7a, 0, 0, 0, 2, 0x61, 0x62], [0x62, 0xc3, 0xa9], [0x61, 0x80]]) {
      expect(codec.decode(strings(999, text)), `${text}`).toHaveLength(999);
      expect(() => codec.decode(strings(1000, text)), `${text}`).toThrow(overBudget(1000));
      expect(() => codec.decode(strings(998, text, [FAILS_WHEN_READ])), `${text}`).toThrow(readByCborx);
      expect(() => codec.decode(strings(999, text, [FAILS_WHEN_READ])), `${text}`).toThrow(overBudget(1000));
    }
  });

  it('does not count the empty string or 1-byte ASCII strings, which V8 does not allocate (it returns shared ones)', () => {
    const codec = cbor({ maxContainers: 2 });
    for (const text of [[0x60], [0x61, 0x61], [0x78, 1, 0x7a], [0x7a, 0, 0, 0, 0]]) {
      expect(codec.decode(strings(5000, text)), `${text}`).toHaveLength(5000);
      expect(codec.decode(strings(5000, text, [DATE])), `${text}`).toHaveLength(5001);
    }
  });

  it('counts map keys: cbor-x reads each key of a message longer than 180 bytes into a new string', () => {
    const codec = cbor({ maxContainers: 1000 });
    // The outer array, 333 maps {id: null} and their keys: 667; then 333 'ab' values: 1000.
    const same = new Array<number[]>(333).fill([0xa1, 0x62, 0x69, 0x64, 0xf6]);
    expect(codec.decode(strings(0, [], [...same, ...new Array<number[]>(333).fill([0x62, 0x61, 0x62])]))).toHaveLength(666);
    expect(() => codec.decode(strings(0, [], [...same, ...new Array<number[]>(334).fill([0x62, 0x61, 0x62])]))).toThrow(overBudget(1000));
    expect(() => codec.decode(strings(0, [], [FAILS_WHEN_READ, ...same, ...new Array<number[]>(333).fill([0x62, 0x61, 0x62])]))).toThrow(overBudget(1000));
    // One map of 2000 keys.
    const distinct = Array.from({ length: 2000 }, (_, i) => [0x63, 0x21 + (i % 94), 0x21 + Math.floor(i / 94), 0x61, 0xf6]);
    expect(() => codec.decode(Uint8Array.from([0xb9, 2000 >> 8, 2000 & 255, ...distinct.flat()]))).toThrow(overBudget(1000));
  });

  it.each([0, -1, 1.5, Number.NaN, 2 ** 53])('maxContainers %s is refused with InvalidArgument', (maxContainers) => {
    expect(() => cbor({ maxContainers })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument, message: expect.stringContaining('maxContainers') }));
  });

  it('maxContainers Infinity reads any number', () => {
    expect(cbor({ maxContainers: Infinity }).decode(arrayOf(2 << 20, 0x80))).toHaveLength(2 << 20);
  });
});
