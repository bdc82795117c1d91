import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@skein/core';
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

  it.each([0, -1, 1.5, Number.NaN])('maxDepth %s is refused with InvalidArgument', (maxDepth) => {
    expect(() => msgpack({ maxDepth })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
  });

  it('maxDepth Infinity reads any depth', () => {
    expect(msgpack({ maxDepth: Infinity }).decode(nestedArrays(5000))).toBeInstanceOf(Array);
  });
});
