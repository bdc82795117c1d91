import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@skein/core';
import { seededRandom } from '@skein/test-utils';
import { msgpack, msgpackCodec } from '../src/index.js';

/** `levels` nested one-item arrays (fixarray headers) around `inner`: inner is at level levels + 1. */
function nestedArrays(levels: number, inner: number[] = [0xc0]): Uint8Array {
  return Uint8Array.from([...new Array<number>(levels).fill(0x91), ...inner]);
}

/** `levels` nested one-entry maps `{ a: ... }` around nil. */
function nestedMaps(levels: number): Uint8Array {
  const bytes = new Uint8Array(levels * 3 + 1);
  for (let i = 0; i < levels; i++) bytes.set([0x81, 0xa1, 0x61], i * 3);
  bytes[levels * 3] = 0xc0;
  return bytes;
}

/** Set extensions (type 0), each holding a one-item array with the next, `levels` deep, around nil. */
function nestedSets(levels: number): Uint8Array {
  let payload = Uint8Array.of(0x91, 0xc0);
  for (let i = 1; i < levels; i++) payload = Uint8Array.of(0x91, 0xc7, payload.length, 0x00, ...payload);
  return Uint8Array.of(0xc7, payload.length, 0x00, ...payload);
}

/** The level of the deepest value in `value` at level `at`, as maxDepth counts: a Set's values one below it, a Map's keys and values two. */
function deepest(value: unknown, at = 1): number {
  const below = (items: Iterable<unknown>, level: number): number => {
    let max = at;
    for (const item of items) max = Math.max(max, deepest(item, level));
    return max;
  };
  if (Array.isArray(value) || value instanceof Set) return below(value, at + 1);
  if (value instanceof Map) return below([...value].flat(), at + 2);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) return below(Object.values(value), at + 1);
  return at;
}

/** Arrays, objects, Sets and Maps (with container keys too) in one another, and leaves, Dates among them. */
function randomTree(random: () => number, depth = 0): unknown {
  const roll = Math.floor(random() * (depth >= 7 ? 3 : 8));
  const items = (): unknown[] => Array.from({ length: Math.floor(random() * 3) }, () => randomTree(random, depth + 1));
  switch (roll) {
    case 0:
      return Math.floor(random() * 1000);
    case 1:
      return 'leaf';
    case 2:
      return new Date(Math.floor(random() * 1e12));
    case 3:
      return items();
    case 4:
      return Object.fromEntries(items().map((v, i) => [`k${i}`, v]));
    case 5:
      return new Set(items());
    case 6:
      return new Map(items().map((v, i) => [i, v]));
    default:
      return new Map(items().map((v) => [[v], v]));
  }
}

/** What a decode of too deep a message throws, as any malformed message: RpcError(Decode). */
const refused = (message?: string): unknown => expect.objectContaining({ code: ErrorCode.Decode, ...(message === undefined ? {} : { message }) });

describe('msgpack decode depth (maxDepth)', () => {
  it.each([
    ['arrays', nestedArrays(1 << 20)],
    ['maps', nestedMaps(350_000)],
  ])('refuses a 1 MiB message of nested %s with a Decode error naming maxDepth', (_, bytes) => {
    expect(() => msgpackCodec.decode(bytes)).toThrow(refused('msgpack: cannot decode: values nested deeper than maxDepth (100)'));
  });

  it('reads 100 levels by default, the library encoder limit, and refuses 101, through the library path', () => {
    // Beyond the fast path's 32 levels: the library reads these.
    expect(msgpackCodec.decode(nestedArrays(99))).toEqual(JSON.parse('['.repeat(99) + 'null' + ']'.repeat(99)));
    expect(msgpackCodec.decode(nestedArrays(99, [0x90]))).toEqual(JSON.parse('['.repeat(100) + ']'.repeat(100)));
    expect(() => msgpackCodec.decode(nestedArrays(100))).toThrow(refused());
    expect(() => msgpackCodec.decode(nestedMaps(100))).toThrow(refused());
    expect(msgpackCodec.decode(nestedMaps(99))).toBeTypeOf('object');
  });

  it('holds in the fast path too, with a small maxDepth', () => {
    const codec = msgpack({ maxDepth: 3 });
    expect(codec.decode(nestedArrays(2))).toEqual([[null]]);
    expect(codec.decode(Uint8Array.of(0x81, 0xa1, 0x61, 0x91, 0x90))).toEqual({ a: [[]] });
    expect(() => codec.decode(nestedArrays(3))).toThrow(refused());
    expect(() => codec.decode(nestedMaps(3))).toThrow(refused());
  });

  it('counts the levels of Set payloads with those around them, and refuses nesting through extensions', () => {
    const codec = msgpack({ maxDepth: 6 });
    // A Set's payload array is at the Set's level: each Set here holds a one-item array.
    expect(codec.decode(nestedSets(5))).toBeInstanceOf(Set);
    expect(() => codec.decode(nestedSets(6))).toThrow(refused());
    expect(() => codec.decode(Uint8Array.of(0x91, 0x91, ...nestedSets(4)))).toThrow(refused());
    expect(codec.decode(Uint8Array.of(0x91, ...nestedSets(4)))).toBeInstanceOf(Array);
  });

  it('reads the next message normally after refusing one', () => {
    const codec = msgpack({ maxDepth: 40 });
    expect(() => codec.decode(nestedArrays(45))).toThrow(refused());
    expect(() => codec.decode(nestedSets(45))).toThrow(refused());
    // 39 levels of arrays around nil: past the fast path, so the library reads it from level 1.
    expect(codec.decode(nestedArrays(39))).toBeInstanceOf(Array);
    expect(codec.decode(Uint8Array.of(...new Array<number>(34).fill(0x91), ...nestedSets(5)))).toBeInstanceOf(Array);
  });

  it('reads a large wide message whatever maxDepth is: siblings are not levels', () => {
    const items = 300_000;
    // An array 32 of 300 000 one-item arrays [7], then a Date: the library reads it all.
    const bytes = new Uint8Array(5 + 2 * items + 6);
    bytes.set([0xdd, ...[items + 1].flatMap((n) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255])]);
    for (let i = 0; i < items; i++) bytes.set([0x91, 0x07], 5 + 2 * i);
    bytes.set([0xd6, 0xff, 0x00, 0x00, 0x00, 0x01], 5 + 2 * items); // timestamp 32: 1 s
    for (const codec of [msgpackCodec, msgpack({ maxDepth: 3 })]) {
      const value = codec.decode(bytes) as unknown[];
      expect(value.length).toBe(items + 1);
      expect(value[items - 1]).toEqual([7]);
      expect(value[items]).toEqual(new Date(1000));
    }
  });

  it('refuses to write what it would refuse to read', () => {
    const codec = msgpack({ maxDepth: 3 });
    expect(codec.decode(codec.encode([[1]]))).toEqual([[1]]);
    expect(codec.decode(codec.encode({ a: { b: 1 } }))).toEqual({ a: { b: 1 } });
    expect(() => codec.encode([[[1]]])).toThrow(expect.objectContaining({ code: ErrorCode.Encode }));
    expect(() => codec.encode({ a: [{ b: 1 }] })).toThrow(expect.objectContaining({ code: ErrorCode.Encode }));
  });

  it('refuses to write Set and Map payloads it would refuse to read: they count from the extension value\'s level', () => {
    const codec = msgpack({ maxDepth: 3 });
    const encodeRefused = expect.objectContaining({ code: ErrorCode.Encode });
    // A Set at level 2 holds its values at 3: [1] is at 3, its 1 at 4.
    expect(() => codec.encode([new Set([[1]])])).toThrow(encodeRefused);
    expect(() => codec.encode([[new Set([1])]])).toThrow(encodeRefused);
    // A Map's pairs are one level below it, its keys and values two.
    expect(() => codec.encode([new Map([[1, 2]])])).toThrow(encodeRefused);
    expect(() => codec.encode(new Set([new Set([new Set([1])])]))).toThrow(encodeRefused);
    // At the limit, both ways.
    for (const value of [[new Set([1])], new Set([[1]]), new Map([[1, 2]]), [[new Set()]], new Set([new Set([1])])]) {
      expect(codec.decode(codec.encode(value))).toEqual(value);
    }
    // A refused payload leaves the count as it was: the next value has all its levels.
    expect(codec.decode(codec.encode([[1]]))).toEqual([[1]]);
    expect(codec.decode(codec.encode(new Set([[1]])))).toEqual(new Set([[1]]));
  });

  it('encodes and decodes alike by default: a value the encoder writes is one the decoder reads', () => {
    let value: unknown = 1;
    for (let i = 0; i < 90; i++) value = i % 3 === 0 ? new Set([value]) : i % 3 === 1 ? [value] : new Map([['k', value]]);
    const written = (() => {
      try {
        return msgpackCodec.encode(value);
      } catch {
        return null;
      }
    })();
    if (written !== null) expect(msgpackCodec.decode(written)).toEqual(value);
  });

  it('writes and reads a value exactly when its deepest value is within maxDepth, counted independently, both paths, Sets and Maps too', () => {
    const random = seededRandom(0xd3e9);
    const unlimited = msgpack({ maxDepth: Infinity });
    const codecs = Array.from({ length: 9 }, (_, i) => msgpack({ maxDepth: i + 1 }));
    const ok = (run: () => unknown): boolean => {
      try {
        run();
        return true;
      } catch (e) {
        if ((e as { code?: number }).code !== ErrorCode.Decode && (e as { code?: number }).code !== ErrorCode.Encode) throw e;
        return false;
      }
    };
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const value = randomTree(random);
      const level = deepest(value);
      seen.add(level);
      const bytes = unlimited.encode(value);
      expect(unlimited.decode(bytes)).toEqual(value);
      for (const [d, codec] of codecs.entries()) {
        const within = level <= d + 1;
        if (ok(() => codec.encode(value)) !== within) expect.fail(`value ${i} (level ${level}): encode with maxDepth ${d + 1} ${within ? 'refused' : 'accepted'}`);
        if (within) expect(codec.encode(value)).toEqual(bytes);
        if (ok(() => codec.decode(bytes)) !== within) expect.fail(`value ${i} (level ${level}): decode with maxDepth ${d + 1} ${within ? 'refused' : 'accepted'}`);
      }
    }
    // Values at every level the codecs tell apart, and beyond.
    for (let level = 1; level <= 10; level++) expect(seen.has(level)).toBe(true);
  });

  it.each([0, -1, 1.5, Number.NaN])('maxDepth %s is refused with InvalidArgument', (maxDepth) => {
    expect(() => msgpack({ maxDepth })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
  });

  it('maxDepth Infinity reads any depth', () => {
    expect(msgpack({ maxDepth: Infinity }).decode(nestedArrays(5000))).toBeInstanceOf(Array);
  });
});
