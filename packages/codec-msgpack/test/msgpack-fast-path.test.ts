import { describe, expect, it } from 'vitest';
import { expectSameBytes, hex, mutatedBuffers, outcome, randomBuffers, randomPlain, sameOutcome, sameValue, seededRandom, show } from '@skein/test-utils';
import { msgpack, type MsgpackOptions } from '../src/index.js';
import { fastDecode, NOT_HANDLED } from '../src/fast-decode.js';
import { FastEncoder, MAX_BYTES } from '../src/fast-encode.js';
import { DEFAULT_MAX_DEPTH } from '../src/library-coders.js';
import { DEFAULT_MAX_CONTAINERS } from '../src/container-budget.js';
import { MSGPACK_VALUES, randomForeign, randomMixed } from './random-msgpack.js';
import { DECODED_BYTES, referenceCodec } from './reference-codec.js';

// The fast path (src/fast-encode.ts, src/fast-decode.ts) against the library alone, set up as
// the codec sets it up (src/library-coders.ts): the codec as it was before the fast path.

const OPTIONS: MsgpackOptions[] = [{}, { ignoreUndefined: true }, { sortKeys: true }, { ignoreUndefined: true, sortKeys: true }];
const VALUES = 3000;


describe.each(OPTIONS)('msgpack fast path, options %j', (options) => {
  const reference = referenceCodec(options);

  it(`writes ${VALUES} random plain values byte for byte as the library does, and reads them back as it does`, () => {
    const random = seededRandom(0xfa57 + Object.keys(options).length);
    const fast = new FastEncoder({ ignoreUndefined: options.ignoreUndefined ?? false, sortKeys: options.sortKeys ?? false, maxDepth: DEFAULT_MAX_DEPTH });
    // Each message the fast path wrote, and the library's bytes for its value, as hex taken then.
    const written = new Map<number, { bytes: Uint8Array; expected: string }>();
    for (let i = 0; i < VALUES; i++) {
      const value = randomPlain(random, MSGPACK_VALUES);
      const expected = reference.encode(value);
      const bytes = fast.encode(value);
      // Null (the library's turn) only near the size limit: a string reserves 3 bytes a unit.
      expectSameBytes(`value ${i}`, value, bytes, expected, MAX_BYTES - 8 * 1024);
      if (bytes !== null) written.set(i, { bytes, expected: hex(expected) });

      const decoded = fastDecode(expected, DEFAULT_MAX_DEPTH, DEFAULT_MAX_CONTAINERS);
      if (decoded === NOT_HANDLED || !sameValue(decoded, reference.decode(expected), DECODED_BYTES)) {
        expect.fail(`value ${i} ${show(value)} (${hex(expected).slice(0, 200)}) decodes to ${show(decoded)}`);
      }
    }
    expect(written.size).toBeGreaterThan(VALUES * 0.9);
    // Each result is the caller's to keep: later encodes wrote into none of them (they share
    // chunks: msgpack-encode-chunks.test.ts). The library's bytes were read as each was written,
    // not made again: the same values, from the same seed, took a third of this test.
    for (const [i, { bytes, expected }] of written) if (hex(bytes) !== expected) expect.fail(`value ${i}: ${hex(bytes).slice(0, 200)} now, ${expected.slice(0, 200)} when written`);
  });

  it('encodes values holding anything else exactly as the library does, errors included', () => {
    const random = seededRandom(0x0dd5);
    const codec = msgpack(options);
    for (let i = 0; i < 1000; i++) {
      const value = randomMixed(random);
      const [got, expected] = [outcome(() => codec.encode(value)), outcome(() => reference.encode(value))];
      if (!sameOutcome(got, expected)) expect.fail(`value ${i} ${show(value)}: ${show(got)} vs ${show(expected)}`);
    }
  });
});

describe('msgpack fast path: what it leaves to the library', () => {
  const fast = new FastEncoder({ ignoreUndefined: false, sortKeys: false, maxDepth: DEFAULT_MAX_DEPTH });
  const reference = referenceCodec({});
  const codec = msgpack();
  class Point {
    x = 1;
  }
  const selfReferring: Record<string, unknown> = {};
  selfReferring.self = selfReferring;
  let deep: unknown = 1;
  for (let i = 0; i < 40; i++) deep = [deep];

  it.each([
    ['a Date', new Date(1000)],
    ['a Map', new Map([[1, 2]])],
    ['a Set', new Set([1])],
    ['a bigint', 5n],
    ['a bigint beyond 64 bits', 2n ** 64n],
    ['a class instance', new Point()],
    ['a Float64Array', new Float64Array([1.5])],
    ['a DataView', new DataView(new ArrayBuffer(2))],
    ['an ArrayBuffer', new ArrayBuffer(2)],
    ['an array whose prototype is Object.prototype', Object.setPrototypeOf([1], Object.prototype)],
    ['a Uint8Array whose prototype is Object.prototype', Object.setPrototypeOf(new Uint8Array(2), Object.prototype)],
    ['an object whose prototype is Uint8Array.prototype', Object.create(Uint8Array.prototype)],
    ['a Float64Array whose prototype is Uint8Array.prototype', Object.setPrototypeOf(new Float64Array(1), Uint8Array.prototype)],
    ['a symbol', Symbol('s')],
    ['a function', () => 1],
    ['a cycle', selfReferring],
    ['nesting 40 deep', deep],
    ['a message over 64 KiB', ['x'.repeat(70000)]],
  ])('%s, anywhere in the value, with the same bytes or error', (_, value) => {
    for (const whole of [value, { a: [1, value] }]) {
      expect(fast.encode(whole)).toBeNull();
      expect(sameOutcome(outcome(() => codec.encode(whole)), outcome(() => reference.encode(whole)))).toBe(true);
    }
  });

  it('a getter that encodes with the same codec gets the library, and the outer value its bytes', () => {
    const inner = msgpack();
    const value = {
      get a() {
        return inner.encode([1, 'two']);
      },
    };
    expect(hex(inner.encode(value))).toBe(hex(reference.encode({ a: reference.encode([1, 'two']) })));
  });

  it('reads the strings of a message over 64 KiB (13 to 24 bytes: one fromCharCode call each, not a join) as the library does', () => {
    const random = seededRandom(0x57a1);
    // Strings of 1 to 30 bytes, mostly ASCII, some with a byte of a UTF-8 sequence (or a broken one).
    const items = Array.from({ length: 6000 }, () => {
      const length = 1 + Math.floor(random() * 30);
      const bytes = Array.from({ length }, () => (random() < 0.02 ? 0x80 + Math.floor(random() * 0x80) : 0x20 + Math.floor(random() * 0x5f)));
      return [...(length < 32 ? [0xa0 + length] : [0xd9, length]), ...bytes];
    });
    const message = Uint8Array.from([0xdd, 0, 0, items.length >>> 8, items.length & 255, ...items.flat()]);
    expect(message.length).toBeGreaterThan(64 * 1024);
    expect(fastDecode(message, DEFAULT_MAX_DEPTH, DEFAULT_MAX_CONTAINERS)).not.toBe(NOT_HANDLED);
    expect(codec.decode(message)).toEqual(reference.decode(message));
  });

  it('reads a map key cut short inside a UTF-8 sequence from the bytes after it, every time, as the library does a key it has not cached', () => {
    const codec = msgpack();
    // { "\xe2": 1 }, then { "\xe2": 2 }: the lead byte of a 3-byte sequence, the key's only byte.
    // The library would keep the first string for those bytes, and give it for the second too.
    const first = codec.decode(Uint8Array.of(0x81, 0xa1, 0xe2, 0x01)) as Record<string, number>;
    const second = codec.decode(Uint8Array.of(0x81, 0xa1, 0xe2, 0x02)) as Record<string, number>;
    expect(first).toEqual({ '\u2040': 1 });
    expect(second).toEqual({ '\u2080': 2 });
  });

  it('reads random msgpack from other encoders (and broken msgpack) as the library does, errors included', () => {
    const random = seededRandom(0xf0e1);
    const foreign = Array.from({ length: 6000 }, () => new Uint8Array(randomForeign(random)));
    const valid = Array.from({ length: 300 }, () => reference.encode(randomPlain(random, { ...MSGPACK_VALUES, maxDepth: 3 })));
    const truncated = valid.flatMap((bytes) => Array.from({ length: Math.min(bytes.length, 20) }, (_, n) => bytes.subarray(0, n)));
    const inputs = [
      ...foreign,
      ...randomBuffers(random, 3000),
      ...mutatedBuffers(random, valid, 3000),
      ...truncated,
      ...valid.map((bytes) => Uint8Array.from([...bytes, 0x00])), // a trailing byte
    ];
    let handled = 0;
    for (const [i, bytes] of inputs.entries()) {
      // A map header over maxMapKeys is refused by both paths at once, here by a throw.
      const fast = outcome(() => fastDecode(bytes, DEFAULT_MAX_DEPTH, DEFAULT_MAX_CONTAINERS));
      if ('value' in fast && fast.value !== NOT_HANDLED) handled++;
      const [got, expected] = [outcome(() => codec.decode(bytes)), outcome(() => reference.decode(bytes))];
      if (!sameOutcome(got, expected, DECODED_BYTES)) expect.fail(`input ${i} ${hex(bytes)}: ${show(got)} vs ${show(expected)}`);
    }
    // The fast path itself read a good share of them; the rest went to the library.
    expect(handled).toBeGreaterThan(inputs.length / 5);
    expect(handled).toBeLessThan(inputs.length);
  });
});

describe.each([1, 2, 3, 4, 5])('msgpack fast path with maxDepth %i', (maxDepth) => {
  it('writes and reads what the library does with that maxDepth, and refuses what it refuses, errors included', () => {
    const random = seededRandom(0xdee9 + maxDepth);
    const codec = msgpack({ maxDepth });
    const reference = referenceCodec({ maxDepth });
    const writer = referenceCodec({ maxDepth: 20 }); // deep enough for every value randomPlain makes
    let refused = 0;
    for (let i = 0; i < 1000; i++) {
      const value = randomPlain(random, MSGPACK_VALUES);
      const [got, expected] = [outcome(() => codec.encode(value)), outcome(() => reference.encode(value))];
      if (!sameOutcome(got, expected)) expect.fail(`value ${i} ${show(value)}: wrote ${show(got)} vs ${show(expected)}`);
      const bytes = writer.encode(value);
      const [read, readExpected] = [outcome(() => codec.decode(bytes)), outcome(() => reference.decode(bytes))];
      if (!sameOutcome(read, readExpected, DECODED_BYTES)) expect.fail(`value ${i} ${hex(bytes)}: read ${show(read)} vs ${show(readExpected)}`);
      if ('error' in read) refused++;
    }
    // Some values were too deep for this maxDepth, some were not.
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThan(1000);
  });
});
