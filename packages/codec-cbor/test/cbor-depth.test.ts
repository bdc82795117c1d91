import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError } from '@skein/core';
import { Encoder, Tag } from 'cbor-x';
import { hex, mutatedBuffers, randomBuffers, seededRandom } from '@skein/test-utils';
import { cbor, cborCodec } from '../src/index.js';

/** `levels` copies of `unit` (each opening a level) around `inner`: inner is at level levels + 1. */
function nested(unit: number[], levels: number, inner: number[] = [0xf6]): Uint8Array {
  const bytes = new Uint8Array(unit.length * levels + inner.length);
  for (let i = 0; i < levels; i++) bytes.set(unit, i * unit.length);
  bytes.set(inner, unit.length * levels);
  return bytes;
}

const arrays = (levels: number, inner?: number[]): Uint8Array => nested([0x81], levels, inner);
const maps = (levels: number): Uint8Array => nested([0xa1, 0x61, 0x61], levels); // { a: ... }
const tags = (levels: number): Uint8Array => nested([0xd8, 0x64], levels); // tag 100, unknown to cbor-x
const indefinite = (levels: number): Uint8Array => Uint8Array.from([...nested([0x9f], levels), ...new Array<number>(levels).fill(0xff)]);

/** What a decode of too deep a message throws, as any malformed message: RpcError(Decode). */
const refused = (message?: string): unknown => expect.objectContaining({ code: ErrorCode.Decode, ...(message === undefined ? {} : { message }) });

type Outcome = { value: unknown } | { error: string };

function outcome(run: () => unknown): Outcome {
  try {
    return { value: run() };
  } catch (e) {
    if (!RpcError.is(e, ErrorCode.Decode)) throw e;
    return { error: e.message };
  }
}

/** The default, set: the MessagePack codec's default too. */
const limited = cbor({ maxDepth: 100 });

/** `[value, 'x' × 300]`: over 256 bytes, so cbor-x reads it in place rather than from the small-message buffer; `value` is at level 2. */
const large = (value: Uint8Array): Uint8Array => Uint8Array.from([0x82, ...value, 0x79, 0x01, 0x2c, ...new Array<number>(300).fill(0x78)]);

/** `levels` arrays each holding the next, the innermost `inner`. */
function deepValue(levels: number, inner: unknown = 1): unknown {
  let value = inner;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

describe('cbor decode depth (maxDepth)', () => {
  const MiB = 1 << 20;
  it.each([
    ['arrays', arrays(MiB - 1)],
    ['maps', maps(Math.floor(MiB / 3))],
    ['tags', tags(MiB / 2 - 1)],
    ['indefinite-length arrays', indefinite(MiB / 2 - 1)],
  ])('refuses a 1 MiB message of nested %s with a Decode error naming maxDepth', (_, bytes) => {
    // Its 350 Ki maps of one key are over the default maxMapKeys too: lifted, to see the depth refused.
    expect(() => cbor({ maxDepth: 100, maxMapKeys: Infinity }).decode(bytes)).toThrow(refused('cbor: cannot decode: values nested deeper than maxDepth (100)'));
  });

  it('reads 100 levels by default and refuses 101, in small messages and large ones (both cbor-x paths)', () => {
    for (const codec of [cborCodec, cbor()]) {
      expect(codec.decode(arrays(99))).toEqual(deepValue(99, null)); // null at level 100
      expect(() => codec.decode(arrays(100))).toThrow(refused('cbor: cannot decode: values nested deeper than maxDepth (100)'));
      expect(codec.decode(maps(99))).toBeTypeOf('object');
      expect(() => codec.decode(maps(100))).toThrow(refused('cbor: cannot decode: values nested deeper than maxDepth (100)'));
      const [value, text] = codec.decode(large(arrays(98))) as [unknown, string]; // null at level 100
      expect([value, text.length]).toEqual([deepValue(98, null), 300]);
      expect(() => codec.decode(large(arrays(99)))).toThrow(refused('cbor: cannot decode: values nested deeper than maxDepth (100)'));
      // Deep enough for cbor-x's recursion to have read it (about 2,200 levels) and handed it on.
      expect(() => codec.decode(arrays(2000))).toThrow(refused('cbor: cannot decode: values nested deeper than maxDepth (100)'));
    }
  });

  it('maxDepth raises the limit and lowers it, on the fast path too', () => {
    expect(cbor({ maxDepth: 200 }).decode(arrays(199))).toEqual(deepValue(199, null));
    expect(cbor({ maxDepth: 200 }).decode(large(arrays(198)))).toHaveLength(2);
    expect(() => cbor({ maxDepth: 200 }).decode(arrays(200))).toThrow(refused());
    // [[1]] and [[[1]]]: plain values the fast path reads, within its own 32 levels.
    expect(cbor({ maxDepth: 3 }).decode(arrays(2, [0x01]))).toEqual([[1]]);
    expect(() => cbor({ maxDepth: 3 }).decode(arrays(3, [0x01]))).toThrow(refused('cbor: cannot decode: values nested deeper than maxDepth (3)'));
    expect(() => cbor({ maxDepth: 20 }).decode(cborCodec.encode(deepValue(20)))).toThrow(refused());
  });

  it('reads 100 levels and refuses 101, arrays, maps, tags and indefinite lengths alike', () => {
    expect(limited.decode(arrays(99))).toEqual(JSON.parse('['.repeat(99) + 'null' + ']'.repeat(99)));
    expect(limited.decode(arrays(99, [0x80]))).toEqual(JSON.parse('['.repeat(100) + ']'.repeat(100)));
    expect(limited.decode(arrays(99, [0x9f, 0xff]))).toEqual(JSON.parse('['.repeat(100) + ']'.repeat(100)));
    expect(limited.decode(tags(99))).toBeInstanceOf(Tag);
    expect(limited.decode(indefinite(99))).toBeInstanceOf(Array);
    expect(limited.decode(maps(99))).toBeTypeOf('object');
    for (const bytes of [arrays(100), arrays(99, [0x81, 0x01]), tags(100), indefinite(100), maps(100)]) {
      expect(() => limited.decode(bytes)).toThrow(refused());
    }
  });

  it('holds for small messages too, with a small maxDepth; a tag counts a level', () => {
    const codec = cbor({ maxDepth: 3 });
    expect(codec.decode(arrays(2, [0x01]))).toEqual([[1]]);
    expect(codec.decode(cborCodec.encode(new Set([1])))).toEqual(new Set([1])); // tag 258, array, 1
    expect(() => codec.decode(arrays(3, [0x01]))).toThrow(refused());
    expect(() => codec.decode(cborCodec.encode(new Set([[1]])))).toThrow(refused());
    expect(codec.decode(cborCodec.encode({ a: { b: [] } }))).toEqual({ a: { b: [] } });
    expect(() => codec.decode(cborCodec.encode({ a: { b: [1] } }))).toThrow(refused());
  });

  it('reads a large wide message whatever maxDepth is: siblings are not levels', () => {
    const items = 300_000;
    const bytes = new Uint8Array(5 + 2 * items);
    bytes.set([0x9a, items >>> 24, (items >>> 16) & 255, (items >>> 8) & 255, items & 255]); // array 32
    for (let i = 0; i < items; i++) bytes.set([0x81, 0x07], 5 + 2 * i); // [7]
    for (const codec of [cborCodec, limited, cbor({ maxDepth: 3 })]) {
      const value = codec.decode(bytes) as number[][];
      expect(value.length).toBe(items);
      expect(value[items - 1]).toEqual([7]);
    }
  });

  it("counts a cbor-x record (a default cbor-x Encoder's objects) one level, as cbor-x reads it", () => {
    let value: unknown = null;
    for (let i = 0; i < 99; i++) value = { a: value };
    const records = new Encoder(); // records on
    expect(hex(records.encode({ a: 1 })).startsWith('d9dfff')).toBe(true);
    expect(limited.decode(records.encode(value))).toEqual(value); // null at level 100
    expect(() => limited.decode(records.encode({ a: value }))).toThrow(refused('cbor: cannot decode: values nested deeper than maxDepth (100)'));
  });

  it('follows record references as cbor-x does, and refuses record forms it does not follow', () => {
    // [ 0xdfff [0xe000, ["a"], null], 200 references to record 0xe000 nested in each other ]
    const definition = [0xd9, 0xdf, 0xff, 0x83, 0x19, 0xe0, 0x00, 0x81, 0x61, 0x61, 0xf6];
    const chain = (levels: number, header: number): number[] => [...nested([0xd9, 0xe0, 0x00, header], levels)];
    expect(() => limited.decode(Uint8Array.from([0x82, ...definition, ...chain(200, 0x81)]))).toThrow(refused('cbor: cannot decode: values nested deeper than maxDepth (100)'));
    expect(limited.decode(Uint8Array.from([0x82, ...definition, ...chain(98, 0x81)]))).toHaveLength(2);
    // cbor-x reads a reference's count from any header (here uint 1): not an array, refused,
    // however shallow.
    const padding = [0x78, 120, ...Buffer.from('x'.repeat(120))];
    expect(limited.decode(Uint8Array.from([0x83, ...definition, ...padding, ...chain(3, 0x81)]))).toHaveLength(3);
    expect(() => limited.decode(Uint8Array.from([0x83, ...definition, ...padding, ...chain(3, 0x01)]))).toThrow(refused());
    // Within its own keys a record is not defined yet: cbor-x reads its tag as any other tag, a
    // level, around an array, another: 60 of them nest 120 levels deep.
    expect(() => limited.decode(Uint8Array.from([0xd9, 0xdf, 0xff, 0x82, 0x19, 0xe0, 0x00, 0x81, ...chain(60, 0x81), 0xf6]))).toThrow(
      refused('cbor: cannot decode: values nested deeper than maxDepth (100)'),
    );
    // Nor is it in the next message: there, its tag is any other tag (holding 1).
    expect(limited.decode(Uint8Array.from([0x82, ...definition, ...chain(98, 0x81)]))).toHaveLength(2);
    const later = Uint8Array.from([0x82, ...padding, 0xd9, 0xe0, 0x00, 0x01]);
    expect(limited.decode(later)).toEqual(['x'.repeat(120), new Tag(1, 0xe000)]);
    // Bundled strings (cbor-x's bundleStrings option) are refused in a message the scan reads.
    const bundled = new Encoder({ useRecords: false, bundleStrings: true }).encode({ s: 'x'.repeat(200) });
    expect(() => limited.decode(bundled)).toThrow(refused());
  });

  it("reads cbor-x's own records and structured clones (nothing shared) as before; its packed values are refused", () => {
    const value = { id: 1, list: Array.from({ length: 20 }, (_, i) => ({ i, s: `item ${i}`, when: new Date(i * 1000) })) };
    for (const options of [{}, { useRecords: true }, { useRecords: false, structuredClone: true }]) {
      const bytes = new Encoder(options).encode(value);
      expect(bytes.length).toBeGreaterThan(100); // scanned
      expect(limited.decode(bytes)).toEqual(value);
    }
    // Tag 51, whose values cbor-x hands back at every reference (cbor-shared-values.test.ts).
    expect(() => limited.decode(new Encoder({ pack: true }).encode(value))).toThrow(
      expect.objectContaining({ code: ErrorCode.Decode, message: expect.stringContaining('tag 51 not read') }),
    );
  });

  it('scans as cbor-x reads: random and damaged messages decode, or fail, as without the scan', () => {
    const random = seededRandom(0xdeb7);
    const rich = {
      n: [0, -1, 23, 24, 255, 65_536, 2 ** 32, -(2 ** 40), 1.5, Number.NaN, 2n ** 64n],
      s: ['', 'short', 'x'.repeat(300), 'ключ'],
      b: new Uint8Array(40),
      nested: [[[{ a: [1, { b: null, c: undefined, d: true }] }]]],
      map: new Map<unknown, unknown>([[1, 'a'], ['k', [new Set([1, 2])]]]),
      date: new Date(1234),
      typed: new Float64Array([1, 2]),
    };
    const valid = [
      cborCodec.encode(rich),
      cbor({ variableMapSize: true }).encode(rich),
      new Encoder({ useRecords: false, pack: true }).encode(rich),
      new Encoder().encode({ rich, again: [{ x: 1, y: [{ x: 2, y: [] }] }] }), // records
    ];
    valid.push(Uint8Array.from([0x9f, ...valid[0]!, 0xbf, 0x61, 0x61, 0x9f, 0xff, 0xff, 0xff])); // indefinite lengths
    // Tag 0 (a date as text), whose number is 0 but which holds an item all the same.
    valid.push(Uint8Array.from([0x82, 0xc0, 0x74, ...Buffer.from('2013-03-21T20:04:00Z'), 0x78, 60, ...Buffer.from('y'.repeat(60))]));
    const inputs = [...valid, ...randomBuffers(random, 3000, 300), ...mutatedBuffers(random, valid, 6000)];
    const scanned = cbor({ maxDepth: 40 });
    const unscanned = cbor({ maxDepth: Infinity });
    let decoded = 0;
    for (const [i, bytes] of inputs.entries()) {
      const [got, expected] = [outcome(() => scanned.decode(bytes)), outcome(() => unscanned.decode(bytes))];
      // The scan refuses record forms it does not follow (a damaged id, say) that cbor-x reads.
      if ('error' in got && got.error.includes('this codec does not read')) continue;
      if ('error' in got !== 'error' in expected) expect.fail(`input ${i} ${Buffer.from(bytes).toString('hex')}: ${'error' in got ? 'refused' : 'read'} with the scan, not without`);
      if ('value' in got && 'value' in expected) expect(got.value).toEqual(expected.value);
      if ('value' in got) decoded++;
    }
    expect(decoded).toBeGreaterThan(valid.length);
  });

  it.each([0, -1, 1.5, Number.NaN])('maxDepth %s is refused with InvalidArgument', (maxDepth) => {
    expect(() => cbor({ maxDepth })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
  });

  it('maxDepth Infinity leaves the limit to the stack: cbor-x overflows it, a Decode error too', () => {
    const codec = cbor({ maxDepth: Infinity });
    expect(codec.decode(arrays(1000))).toBeInstanceOf(Array);
    expect(() => codec.decode(arrays(MiB))).toThrow(expect.objectContaining({ code: ErrorCode.Decode, cause: expect.any(RangeError) }));
  });
});

/** What an encode of too deep a value throws: RpcError(Encode), as the MessagePack codec's. */
const refusedEncode = (maxDepth: number): unknown =>
  expect.objectContaining({ code: ErrorCode.Encode, message: `cbor: cannot encode: values nested deeper than maxDepth (${maxDepth})` });

describe('cbor encode depth (maxDepth)', () => {
  it('writes 100 levels by default and refuses 101, which a default peer would refuse to read', () => {
    for (const codec of [cborCodec, cbor()]) {
      expect(cborCodec.decode(codec.encode(deepValue(99)))).toEqual(deepValue(99));
      expect(() => codec.encode(deepValue(100))).toThrow(refusedEncode(100));
      // Through cbor-x (a Date, a Set each count as the tags they are written as).
      expect(codec.decode(codec.encode(deepValue(98, new Date(5))))).toEqual(deepValue(98, new Date(5)));
      expect(() => codec.encode(deepValue(99, new Date(5)))).toThrow(refusedEncode(100));
      expect(() => codec.encode(deepValue(98, new Set([1])))).toThrow(refusedEncode(100));
      // Before, cbor-x wrote 1,500 levels, which a peer's cbor-x read and handed to its application.
      expect(() => codec.encode(deepValue(1500))).toThrow(refusedEncode(100));
    }
  });

  it('maxDepth raises and lowers the limit, on the fast path too', () => {
    // Written as asked, and refused by a peer at the default: both sides must raise it.
    expect(() => cborCodec.decode(cbor({ maxDepth: 200 }).encode(deepValue(150)))).toThrow(refused());
    expect(cbor({ maxDepth: 200 }).decode(cbor({ maxDepth: 200 }).encode(deepValue(199)))).toEqual(deepValue(199));
    expect(() => cbor({ maxDepth: 200 }).encode(deepValue(200))).toThrow(refusedEncode(200));
    expect(cbor({ maxDepth: 3 }).encode({ a: [1] })).toEqual(cborCodec.encode({ a: [1] }));
    expect(cbor({ maxDepth: 3 }).encode({ a: [[]] })).toEqual(cborCodec.encode({ a: [[]] }));
    expect(() => cbor({ maxDepth: 3 }).encode({ a: [[1]] })).toThrow(refusedEncode(3));
    expect(() => cbor({ maxDepth: 3 }).encode([[[1]]])).toThrow(refusedEncode(3));
  });

  it('maxDepth Infinity writes what the stack allows, as before', () => {
    const codec = cbor({ maxDepth: Infinity });
    expect(codec.decode(codec.encode(deepValue(500)))).toEqual(deepValue(500));
  });
});
