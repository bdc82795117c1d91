import { describe, expect, it } from 'vitest';
import { decodeError, encodeError, plainBytes } from '@skein/core';
import { mutatedBuffers, randomBuffers, seededRandom } from '@skein/test-utils';
import { Decoder, Encoder } from 'cbor-x';
import { cbor } from '../src/index.js';
import { cborxOptions } from '../src/cborx-options.js';
import { fastDecode, NOT_HANDLED } from '../src/fast-decode.js';
import { FastEncoder, MAX_BYTES } from '../src/fast-encode.js';
import { randomForeign, randomPlain } from './random-cbor.js';

// The fast path (src/fast-encode.ts, src/fast-decode.ts) against cbor-x alone, set up as the
// codec sets it up (src/cborx-options.ts): the codec as it was before the fast path.

const VALUES = 3000;
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

type Outcome = { value: unknown } | { error: string };

function outcome(run: () => unknown): Outcome {
  try {
    return { value: run() };
  } catch (e) {
    const error = e as { code?: unknown; message?: unknown };
    return { error: `${String(error.code)} ${String(error.message)}` };
  }
}

/** The codec as it was: cbor-x, its errors wrapped the same way. */
function cborxCodec(variableMapSize: boolean) {
  const encoder = new Encoder(cborxOptions(variableMapSize));
  const decoder = new Decoder({ ...cborxOptions(variableMapSize), copyBuffers: true });
  return {
    encode(value: unknown): Uint8Array {
      try {
        return plainBytes(encoder.encode(value));
      } catch (e) {
        throw encodeError('cbor', e);
      }
    },
    decode(bytes: Uint8Array): unknown {
      try {
        return decoder.decode(plainBytes(bytes));
      } catch (e) {
        throw decodeError('cbor', e);
      }
    },
  };
}

/** Equal values, down to -0, undefined fields, holes and key order (cbor-x writes keys in order). */
function expectSame(got: unknown, expected: unknown, what: string): void {
  expect(got, what).toStrictEqual(expected);
  const order = new Encoder(cborxOptions(true));
  expect(hex(order.encode(got)), what).toBe(hex(order.encode(expected)));
}

/** Whether a string in the value, or a key, holds a lone surrogate. */
function loneSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return /\p{Cs}/u.test(value);
  if (typeof value !== 'object' || value === null) return false;
  return Object.entries(value).some(([key, item]) => loneSurrogate(key) || loneSurrogate(item));
}
const show = (value: unknown): string => JSON.stringify(value)?.slice(0, 300) ?? String(value);

describe.each([false, true])('cbor fast path, variableMapSize %s', (variableMapSize) => {
  const reference = cborxCodec(variableMapSize);

  it(`writes ${VALUES} random plain values byte for byte as cbor-x does, and reads them back as it does`, () => {
    const random = seededRandom(0xc60 + Number(variableMapSize));
    const fast = new FastEncoder(variableMapSize);
    for (let i = 0; i < VALUES; i++) {
      const value = randomPlain(random);
      const expected = reference.encode(value);
      const bytes = fast.encode(value);
      // Null (cbor-x's turn) only near the size limit: a string reserves 3 bytes a unit.
      const tooLong = bytes === null && expected.length > MAX_BYTES - 16 * 1024;
      if (!tooLong && (bytes === null || hex(bytes) !== hex(expected))) {
        expect.fail(`value ${i} ${show(value)}: fast ${bytes && hex(bytes).slice(0, 200)}, cbor-x ${hex(expected).slice(0, 200)}`);
      }
      const decoded = fastDecode(expected);
      // A lone surrogate is written as 3 bytes that are not UTF-8: left to cbor-x to read.
      const handled = expected.length <= MAX_BYTES && !loneSurrogate(value);
      if (handled && decoded === NOT_HANDLED) expect.fail(`value ${i} ${show(value)}: not read by the fast decoder: ${hex(expected)}`);
      if (decoded !== NOT_HANDLED) expectSame(decoded, reference.decode(expected), `value ${i}`);
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
    const valid = Array.from({ length: 200 }, () => reference.encode(randomPlain(random)).slice());
    const foreign = Array.from({ length: 4000 }, () => Uint8Array.from(randomForeign(random)));
    const inputs = [...valid, ...foreign, ...randomBuffers(random, 3000, 40), ...mutatedBuffers(random, [...valid, ...foreign.slice(0, 500)], 6000)];
    let fast = 0;
    for (const [i, bytes] of inputs.entries()) {
      const [got, expected] = [outcome(() => codec.decode(bytes)), outcome(() => reference.decode(bytes))];
      const what = `input ${i} ${hex(bytes).slice(0, 200)}`;
      if ('error' in got || 'error' in expected) expect(got, what).toEqual(expected);
      else expectSame(got.value, expected.value, what);
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
    const random = seededRandom(7);
    const kept: { bytes: Uint8Array; expected: string }[] = [];
    for (let i = 0; i < 5000; i++) {
      // Mostly small, now and then one that takes a chunk of its own, or more than the room left.
      const size = i % 997 === 0 ? 10_000 + Math.floor(random() * 10_000) : Math.floor(random() * 300);
      const value = { id: i, text: 'x'.repeat(size), list: [i, -i, i / 3] };
      const bytes = fast.encode(value)!;
      kept.push({ bytes, expected: hex(reference.encode(value)) });
    }
    for (const k of kept) expect(hex(k.bytes)).toBe(k.expected);
    expect(new Set(kept.map((k) => k.bytes.buffer)).size).toBeLessThan(kept.length / 10);
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
