import { describe, expect, it } from 'vitest';
import { plainBytes } from '@skein/core';
import { expectMessagesKeptAcrossChunks, expectSameBytes, hex, libraryCodec, mutatedBuffers, outcome, randomBuffers, randomPlain, sameOutcome, sameValue, seededRandom, show } from '@skein/test-utils';
import { Decoder, Encoder } from 'cbor-x';
import { cbor } from '../src/index.js';
import { cborxOptions } from '../src/cborx-options.js';
import { DEFAULT_MAX_DEPTH, DepthScan } from '../src/depth-scan.js';
import { fastDecode, NOT_HANDLED } from '../src/fast-decode.js';
import { FastEncoder, MAX_BYTES } from '../src/fast-encode.js';
import { DEFAULT_MAX_MAP_KEYS } from '../src/map-keys.js';
import { refuseSharedValues } from '../src/shared-values.js';
import { CBOR_VALUES, randomForeign } from './random-cbor.js';

// The fast path (src/fast-encode.ts, src/fast-decode.ts) against cbor-x alone, set up as the
// codec sets it up (src/cborx-options.ts): the codec as it was before the fast path.

const VALUES = 3000;

/**
 * The codec as it was: cbor-x, its errors wrapped the same way, after the codec's depth scan
 * (depth-scan.ts, tested in cbor-depth.test.ts) and its refusal of tags 29 and 51
 * (shared-values.ts, tested in cbor-shared-values.test.ts), which come before cbor-x reads any
 * message the fast path leaves to it.
 */
function cborxCodec(variableMapSize: boolean) {
  const encoder = new Encoder(cborxOptions(variableMapSize));
  const decoder = new Decoder({ ...cborxOptions(variableMapSize), copyBuffers: true });
  const depth = new DepthScan(DEFAULT_MAX_DEPTH, DEFAULT_MAX_MAP_KEYS);
  const decode = (bytes: Uint8Array): unknown => {
    depth.check(bytes, false);
    refuseSharedValues(bytes);
    return decoder.decode(plainBytes(bytes));
  };
  return libraryCodec('cbor', { encode: (value) => plainBytes(encoder.encode(value)), decode });
}

/** Whether a string in the value, or a key, holds a lone surrogate. */
function loneSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return /\p{Cs}/u.test(value);
  if (typeof value !== 'object' || value === null) return false;
  return Object.entries(value).some(([key, item]) => loneSurrogate(key) || loneSurrogate(item));
}

describe.each([false, true])('cbor fast path, variableMapSize %s', (variableMapSize) => {
  const reference = cborxCodec(variableMapSize);

  it(`writes ${VALUES} random plain values byte for byte as cbor-x does, and reads them back as it does`, () => {
    const random = seededRandom(0xc60 + Number(variableMapSize));
    const fast = new FastEncoder(variableMapSize);
    for (let i = 0; i < VALUES; i++) {
      const value = randomPlain(random, CBOR_VALUES);
      const expected = reference.encode(value);
      // Null (cbor-x's turn) only near the size limit: a string reserves 3 bytes a unit.
      expectSameBytes(`value ${i}`, value, fast.encode(value), expected, MAX_BYTES - 16 * 1024);
      const decoded = fastDecode(expected);
      // A lone surrogate is written as 3 bytes that are not UTF-8: left to cbor-x to read.
      const handled = expected.length <= MAX_BYTES && !loneSurrogate(value);
      if (handled && decoded === NOT_HANDLED) expect.fail(`value ${i} ${show(value)}: not read by the fast decoder: ${hex(expected)}`);
      // Byte strings are copies (copyBuffers), so bytes compare by their contents.
      if (decoded !== NOT_HANDLED && !sameValue(decoded, reference.decode(expected), 'contents')) {
        expect.fail(`value ${i} ${show(value)} (${hex(expected).slice(0, 200)}) decodes to ${show(decoded)}`);
      }
    }
  });

  it('writes the edge cases as cbor-x does, or leaves them to it', () => {
    const codec = cbor({ variableMapSize });
    const withGetter = Object.defineProperty({ a: 1 }, 'b', { enumerable: true, get: () => [2] });
    const ownHasOwn = { hasOwnProperty: 1, a: 2 };
    const constructorKey = { constructor: 'not Object', a: 1 };
    const arrayConstructorKey = Object.assign([1, 2], { constructor: 'not Array' }); // cbor-x: an iterable, indefinite length
    class Point {
      x = 1;
    }
    const values: unknown[] = [
      -0, 2 ** 32 - 1, 2 ** 32, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 32), -(2 ** 32) - 1, NaN, 1e300,
      'x'.repeat(23), 'x'.repeat(24), 'é'.repeat(11), 'é'.repeat(12), 'é'.repeat(63), 'é'.repeat(64), '\ud800', '\ud800'.repeat(64), 'x'.repeat(65_000),
      withGetter, ownHasOwn, constructorKey, arrayConstructorKey, Object.create(null), new Point(), Object.assign(Object.create({ inherited: 1 }), { own: 2 }),
      [new Date(0)], { m: new Map([[1, 2]]) }, [1n], { b: new Uint8Array(3) }, [new Float64Array(1)],
      Object.setPrototypeOf([1], Object.prototype), Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, i])),
    ];
    for (const [i, value] of values.entries()) {
      expect(hex(codec.encode(value)), `value ${i}`).toBe(hex(reference.encode(value)));
    }
  });
});

describe('cbor fast decode', () => {
  it('reads random, damaged and foreign CBOR as cbor-x does: the same values, the same errors', () => {
    const random = seededRandom(0xdec0);
    const codec = cbor();
    const reference = cborxCodec(false);
    const valid = Array.from({ length: 200 }, () => reference.encode(randomPlain(random, CBOR_VALUES)).slice());
    const foreign = Array.from({ length: 4000 }, () => Uint8Array.from(randomForeign(random)));
    const inputs = [...valid, ...foreign, ...randomBuffers(random, 3000, 40), ...mutatedBuffers(random, [...valid, ...foreign.slice(0, 500)], 6000)];
    let fast = 0;
    for (const [i, bytes] of inputs.entries()) {
      const [got, expected] = [outcome(() => codec.decode(bytes)), outcome(() => reference.decode(bytes))];
      if (!sameOutcome(got, expected, 'contents')) expect.fail(`input ${i} ${hex(bytes).slice(0, 200)}: ${show(got)} vs ${show(expected)}`);
      if (fastDecode(bytes) !== NOT_HANDLED) fast++;
    }
    // The fast decoder read many of them, and left many to cbor-x.
    expect(fast).toBeGreaterThan(inputs.length / 10);
    expect(fast).toBeLessThan(inputs.length * 0.9);
  });
});

describe('cbor encode: messages as views of shared chunks', () => {
  it('keeps every message as it was written while thousands more are encoded, across chunk ends and large messages', () => {
    const fast = new FastEncoder(false);
    const reference = cborxCodec(false);
    expectMessagesKeptAcrossChunks((value) => fast.encode(value), (value) => reference.encode(value), 10_000);
  });

  it('leaves nothing of a message the fast path gave up on: the next one starts where it would have', () => {
    const fast = new FastEncoder(false);
    const first = fast.encode([1, 2, 3])!;
    expect(fast.encode([4, new Date(0)])).toBeNull(); // a Date: left to cbor-x, midway
    const next = fast.encode([5])!;
    expect(next.byteOffset).toBe(first.byteOffset + first.length);
    expect(hex(first)).toBe('83010203');
    expect(hex(next)).toBe('8105');
  });

  it('encodes with the same codec from a getter inside a value (cbor-x writes the inner one)', () => {
    const codec = cbor();
    let inner: Uint8Array | undefined;
    const value = Object.defineProperty({ a: 1 }, 'b', { enumerable: true, get: () => (inner = codec.encode({ c: 'in' })).length });
    const outer = codec.encode(value);
    expect(codec.decode(inner!)).toEqual({ c: 'in' });
    expect(codec.decode(outer)).toEqual({ a: 1, b: inner!.length });
  });
});
