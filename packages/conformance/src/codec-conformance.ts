import { describe, expect, it } from 'vitest';
import { decodedBytesWrittenOver, patternedFrom } from './decoded-bytes-kept.js';
import { mutatedBuffers, randomBuffers, seededRandom } from './fuzz-bytes.js';

/**
 * Each test's own timeout, inherited from the suite's describe: the kit runs in the codec
 * author's vitest project, whose default is 5 s, and its heaviest tests (a 1 MiB string, 70 000
 * keys, every truncation of the sample messages, 6000 fuzz inputs) are CPU-bound, so on a slow
 * or loaded machine a 5 s cut would report a timeout instead of what the codec got wrong.
 */
const TEST_MS = 60_000;

/**
 * The codec contract as the suite sees it: the three members of core's `Codec` it uses,
 * structural, so that a codec written against another version of core is checked as well.
 */
export interface CodecUnderTest {
  readonly name: string;
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

/**
 * What a codec does where codecs may legitimately differ. Each codec states every one, and its
 * README's "Type mapping" table says the same in words.
 */
export interface CodecExpectations {
  /** `undefined` at top level, as an array item and as an object field. */
  undefined: 'undefined' | 'null';
  /** `-0` comes back as `-0` or as `0`. */
  negativeZero: '-0' | '0';
  /** A bigint in the safe-integer range, such as `5n`. */
  smallBigInt: 'bigint' | 'number';
  /** Bigints the codec carries: int64/uint64 only (others fail with Encode), or any size. */
  bigIntRange: '64-bit' | 'unbounded';
  map: 'Map' | 'encode error';
  set: 'Set' | 'encode error';
  /** An ArrayBuffer: its bytes as a Uint8Array, or refused. */
  arrayBuffer: 'Uint8Array' | 'encode error';
  /** Typed arrays other than Uint8Array: the same type back, or their bytes as a Uint8Array. */
  typedArrays: 'same type' | 'bytes';
  /** Dates more than 2^42 s (about 139 000 years) from 1970. Nearer ones must be exact. */
  farDates: 'exact' | 'within 1 ms';
  invalidDate: 'invalid Date' | 'encode error';
  /** An object key `"__proto__"`: refused with a Decode error, or renamed `"__proto_"`. */
  protoKey: 'decode error' | 'renamed';
  /** Byte strings the format itself defines as invalid (reserved or stray type bytes). */
  invalidBytes: readonly Uint8Array[];
}

/**
 * The conformance suite for one codec, as vitest tests: what every Skein codec must carry
 * (numbers, bigints, strings up to 1 MiB, bytes, nested objects and arrays, Dates), the typed
 * `Encode`/`Decode` errors it must throw (functions, symbols, cycles, truncated, trailing and
 * invalid bytes, 6000 fuzzed inputs), and, where codecs may differ, what `expectations` says
 * this one does. Call it at the top level of a test file: `codecConformance(myCodec, { ... })`.
 */
export function codecConformance(codec: CodecUnderTest, expectations: CodecExpectations): void {
  describe(`${codec.name} codec conformance`, { timeout: TEST_MS }, () => {
    numbers(codec, expectations);
    bigints(codec, expectations);
    strings(codec);
    bytes(codec, expectations);
    structures(codec, expectations);
    nullAndUndefined(codec, expectations);
    collections(codec, expectations);
    dates(codec, expectations);
    encodedMessages(codec);
    encodeFailures(codec);
    decodeFailures(codec, expectations);
    fuzz(codec, expectations);
  });
}

const roundTrip = (codec: CodecUnderTest, value: unknown): unknown => codec.decode(codec.encode(value));

/** Checks that `fn` throws an RpcError with the given code name (by name: see CodecUnderTest). */
function expectRpcError(fn: () => unknown, codeName: 'Encode' | 'Decode'): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  const what = codeName === 'Encode' ? 'encode' : 'decode';
  const wrap = codeName === 'Encode' ? 'encodeError' : 'decodeError';
  expect(thrown, `expected ${what} to throw RpcError(${codeName}), but it returned`).toBeInstanceOf(Error);
  // What was thrown, in the failure's words, and what to do about it: an author reads this, not the diff.
  const got = { name: (thrown as Error).name, codeName: (thrown as { codeName?: unknown }).codeName };
  const hint = `expected ${what} to throw RpcError(${codeName}), it threw ${got.name}: ${(thrown as Error).message} (wrap a library's exception with @skein/core's ${wrap}(codecName, err))`;
  expect(got, hint).toEqual({ name: 'RpcError', codeName });
}

const isRpcError = (e: unknown, codeName: string): boolean =>
  e instanceof Error && e.name === 'RpcError' && (e as { codeName?: unknown }).codeName === codeName;

function numbers(codec: CodecUnderTest, x: CodecExpectations): void {
  describe('numbers', () => {
    const p31 = 2 ** 31;
    const p32 = 2 ** 32;
    const safe = Number.MAX_SAFE_INTEGER;
    const integers = [
      ...[0, 1, -1, 127, 128, -32, -33, 255, 256],
      ...[p31 - 1, p31, -p31, -p31 - 1, p32 - 1, p32, -p32, -p32 - 1],
      ...[safe, -safe, safe + 1, -safe - 1],
    ];
    it.each(integers)('integer %d comes back as the same number', (n) => {
      const out = roundTrip(codec, n);
      expect(typeof out).toBe('number');
      expect(out).toBe(n);
    });
    const floats = [0.1, -1.5, 1e300, -1e-300, Number.MAX_VALUE, Number.MIN_VALUE, Math.PI, Infinity, -Infinity];
    it.each(floats)('float %d comes back exactly', (f) => expect(roundTrip(codec, f)).toBe(f));
    it('NaN comes back as NaN', () => expect(roundTrip(codec, NaN)).toBeNaN());
    it(`-0 comes back as ${x.negativeZero}`, () => {
      expect(Object.is(roundTrip(codec, -0), x.negativeZero === '-0' ? -0 : 0)).toBe(true);
    });
    it('booleans come back', () => expect(roundTrip(codec, [true, false])).toEqual([true, false]));
  });
}

function bigints(codec: CodecUnderTest, x: CodecExpectations): void {
  describe('bigint', () => {
    const wide = [2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 53n, -(2n ** 53n) - 1n];
    it.each(wide)('%s, beyond the safe integers, comes back as the same bigint', (n) => {
      const out = roundTrip(codec, n);
      expect(typeof out).toBe('bigint');
      expect(out).toBe(n);
    });
    it(`a bigint within the safe integers comes back as a ${x.smallBigInt}`, () => {
      const out = roundTrip(codec, [0n, 5n, -5n]);
      expect(out).toEqual(x.smallBigInt === 'bigint' ? [0n, 5n, -5n] : [0, 5, -5]);
    });
    const beyond = [2n ** 64n, -(2n ** 63n) - 1n, 2n ** 100n, -(2n ** 100n)];
    if (x.bigIntRange === '64-bit') {
      it.each(beyond)('%s, beyond 64 bits, fails with an Encode error', (n) => {
        expectRpcError(() => codec.encode(n), 'Encode');
      });
    } else {
      it.each(beyond)('%s, beyond 64 bits, comes back as the same bigint', (n) => expect(roundTrip(codec, n)).toBe(n));
    }
  });
}

function strings(codec: CodecUnderTest): void {
  describe('strings', () => {
    const multiByte = ['é ü ß', '漢字かなカナ한국어', '👍🏽 👨‍👩‍👧 🇫🇷'];
    const lengths = ['x'.repeat(31), 'y'.repeat(32), 'z'.repeat(70_000)]; // around header size steps
    const samples = ['', 'a', 'plain ascii', ...multiByte, ...lengths].map((s) => [s.slice(0, 20), s] as const);
    it.each(samples)('%j comes back', (_, s) => expect(roundTrip(codec, s)).toBe(s));
    it('a 1 MB string of 1- to 4-byte characters comes back', () => {
      const s = 'aé漢👍'.repeat(104_858); // 10 UTF-8 bytes per repeat
      expect(roundTrip(codec, s) === s).toBe(true);
    });
  });
}

function patterned(length: number): Uint8Array {
  return patternedFrom(length, 0);
}


function expectPlainBytes(out: unknown, expected: Uint8Array): void {
  expect(out).toBeInstanceOf(Uint8Array);
  expect((out as Uint8Array).constructor).toBe(Uint8Array);
  expect(Buffer.compare(out as Uint8Array, expected)).toBe(0);
}

function bytes(codec: CodecUnderTest, x: CodecExpectations): void {
  describe('bytes', () => {
    it('an empty Uint8Array comes back as an empty Uint8Array', () => {
      expectPlainBytes(roundTrip(codec, new Uint8Array(0)), new Uint8Array(0));
    });
    it('64 KiB come back byte for byte', () => {
      expectPlainBytes(roundTrip(codec, patterned(65_536)), patterned(65_536));
    });
    it('a view sends only the bytes it covers', () => {
      const whole = patterned(100);
      expectPlainBytes(roundTrip(codec, whole.subarray(10, 20)), whole.slice(10, 20));
    });
    it('a Node Buffer comes back as a plain Uint8Array', () => {
      expectPlainBytes(roundTrip(codec, Buffer.from([1, 2, 3])), new Uint8Array([1, 2, 3]));
    });
    it('bytes decoded from a Buffer input are a plain Uint8Array', () => {
      const encoded = codec.encode({ b: new Uint8Array([9, 8]) });
      const out = codec.decode(Buffer.from(encoded)) as { b: unknown };
      expectPlainBytes(out.b, new Uint8Array([9, 8]));
    });
    if (x.arrayBuffer === 'encode error') {
      it('an ArrayBuffer fails with an Encode error', () => {
        expectRpcError(() => codec.encode(new ArrayBuffer(2)), 'Encode');
      });
    } else {
      it('an ArrayBuffer comes back as a Uint8Array of its bytes', () => {
        expectPlainBytes(roundTrip(codec, new Uint8Array([4, 5]).buffer), new Uint8Array([4, 5]));
      });
    }
    it(`other typed arrays come back as ${x.typedArrays === 'same type' ? 'the same type' : 'their bytes'}`, () => {
      const values = [new Float64Array([1.5, -2]), new Int16Array([-1, 300]), new Uint32Array([7, 2 ** 32 - 1])];
      for (const v of values) {
        const out = roundTrip(codec, v);
        if (x.typedArrays === 'same type') expect(out).toEqual(v);
        else expectPlainBytes(out, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      }
    });
  });
}

function encodedMessages(codec: CodecUnderTest): void {
  describe('encoded messages', () => {
    it('every encode returns a plain Uint8Array', () => {
      for (const v of [null, 1, 'text', { a: 1 }]) expect(codec.encode(v).constructor).toBe(Uint8Array);
    });
    it('messages encoded one after another stay intact', () => {
      // One large message in the middle: it makes a codec that reuses a buffer grow it.
      const values = Array.from({ length: 1000 }, (_, i) =>
        i === 500 ? { big: 'b'.repeat(100_000) } : { i, s: 's'.repeat(i % 40) },
      );
      const encoded = values.map((v) => codec.encode(v));
      expect(encoded.map((b) => codec.decode(b))).toEqual(values);
    });
    it('bytes decoded stay as they were after later decodes', () => {
      expect(decodedBytesWrittenOver(codec), 'decoded Uint8Arrays written over by later decodes (their message numbers): a decoder must not reuse the memory of bytes it returned').toEqual([]);
    });
  });
}

function deepArray(depth: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = [i, v];
  return v;
}

function deepObject(depth: number): unknown {
  let v: unknown = { leaf: true };
  for (let i = 0; i < depth; i++) v = { level: i, child: v };
  return v;
}

function structures(codec: CodecUnderTest, x: CodecExpectations): void {
  describe('objects and arrays', () => {
    const mixed = {
      id: 7,
      name: 'skein',
      tags: ['a', 'b'],
      matrix: [[1, 2], [3, [4, [5]]]],
      meta: { ok: true, no: false, empty: {}, list: [], deep: { a: { b: { c: 'd' } } } },
      'key with spaces': 1,
      '': 'empty key',
      '漢字': '👍',
    };
    it('a mixed nested object comes back equal', () => expect(roundTrip(codec, mixed)).toEqual(mixed));
    it('arrays nested 50 deep come back', () => expect(roundTrip(codec, deepArray(50))).toEqual(deepArray(50)));
    it('objects nested 50 deep come back', () => expect(roundTrip(codec, deepObject(50))).toEqual(deepObject(50)));
    it('an object decodes as a plain object', () => {
      expect(Object.getPrototypeOf(roundTrip(codec, { a: 1 }))).toBe(Object.prototype);
    });
    it('an object with 70 000 keys comes back', () => {
      const big = Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, i]));
      expect(roundTrip(codec, big)).toEqual(big);
    });
    it('an array of 70 000 items comes back', () => {
      const big = Array.from({ length: 70_000 }, (_, i) => i % 3 === 0 ? `s${i}` : i);
      expect(roundTrip(codec, big)).toEqual(big);
    });
    it(`a "__proto__" key is ${x.protoKey === 'renamed' ? 'renamed "__proto_"' : 'refused'}, never a prototype`, () => {
      const encoded = codec.encode(JSON.parse('{"__proto__": {"polluted": true}, "a": 1}'));
      if (x.protoKey === 'decode error') {
        expectRpcError(() => codec.decode(encoded), 'Decode');
      } else {
        const out = codec.decode(encoded) as Record<string, unknown>;
        expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
        expect(Object.keys(out)).toEqual(['__proto_', 'a']);
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });
}

function nullAndUndefined(codec: CodecUnderTest, x: CodecExpectations): void {
  const u = x.undefined === 'undefined' ? undefined : null;
  describe('null and undefined', () => {
    it('null comes back as null at top level', () => expect(roundTrip(codec, null)).toBeNull());
    it(`undefined comes back as ${x.undefined} at top level`, () => expect(roundTrip(codec, undefined)).toBe(u));
    it(`array items keep null, and undefined becomes ${x.undefined}`, () => {
      const out = roundTrip(codec, [null, undefined, 1]) as unknown[];
      expect(out.length).toBe(3);
      expect(out[0]).toBeNull();
      expect(out[1]).toBe(u);
      expect(1 in out).toBe(true);
    });
    it(`object fields keep null, and undefined becomes ${x.undefined} with the key present`, () => {
      const out = roundTrip(codec, { n: null, u: undefined }) as Record<string, unknown>;
      expect(Object.keys(out).sort()).toEqual(['n', 'u']);
      expect(out.n).toBeNull();
      expect(out.u).toBe(u);
    });
  });
}

function collections(codec: CodecUnderTest, x: CodecExpectations): void {
  describe('Map and Set', () => {
    if (x.map === 'encode error') {
      it('a Map fails with an Encode error', () => expectRpcError(() => codec.encode(new Map([[1, 2]])), 'Encode'));
    } else {
      mapRoundTrips(codec);
    }
    if (x.set === 'encode error') {
      it('a Set fails with an Encode error', () => expectRpcError(() => codec.encode(new Set([1])), 'Encode'));
    } else {
      it('a Set comes back as a Set, in order', () => {
        const out = roundTrip(codec, new Set([3, 'a', null, 1]));
        expect(out).toBeInstanceOf(Set);
        expect([...(out as Set<unknown>)]).toEqual([3, 'a', null, 1]);
      });
      it('an empty Set comes back', () => expect(roundTrip(codec, new Set())).toEqual(new Set()));
    }
  });
}

function mapRoundTrips(codec: CodecUnderTest): void {
  it('a Map with string, number and object keys comes back as a Map, in order', () => {
    const map = new Map<unknown, unknown>([['s', 1], [2, 'two'], [{ k: 1 }, [3]], [true, null]]);
    const out = roundTrip(codec, map);
    expect(out).toBeInstanceOf(Map);
    expect([...(out as Map<unknown, unknown>)]).toEqual([...map]);
  });
  it('Maps nested in Maps, objects and arrays come back', () => {
    const inner = new Map([['x', new Map([[1, [2]]])]]);
    const value = { list: [inner, new Map()], byId: new Map([[1, { inner }]]) };
    expect(roundTrip(codec, value)).toEqual(value);
  });
  it('an empty Map comes back as an empty Map', () => expect(roundTrip(codec, new Map())).toEqual(new Map()));
}

function dates(codec: CodecUnderTest, x: CodecExpectations): void {
  describe('Date', () => {
    const near = [0, 1, -1, 999, 1_234_567_890_123, -1_234_567_890_123, 4_102_444_800_000];
    it.each(near)('new Date(%d) comes back to the millisecond', (ms) => {
      const out = roundTrip(codec, new Date(ms));
      expect(out).toBeInstanceOf(Date);
      expect((out as Date).getTime()).toBe(ms);
    });
    it('2000 dates within 2^42 s of 1970 come back to the millisecond', () => {
      const random = seededRandom(42);
      for (let i = 0; i < 2000; i++) {
        const ms = Math.round((random() * 2 - 1) * 2 ** 42 * 1000);
        expect((roundTrip(codec, new Date(ms)) as Date).getTime()).toBe(ms);
      }
    });
    // 4446820410426569 ms is one the float-seconds encoding rounds up.
    const far = [8.64e15, -8.64e15, 8.64e15 - 1, 4_446_820_410_426_569];
    it.each(far)(`new Date(%d), far from 1970, comes back ${x.farDates}`, (ms) => {
      const got = (roundTrip(codec, new Date(ms)) as Date).getTime();
      if (x.farDates === 'exact') expect(got).toBe(ms);
      else expect(Math.abs(got - ms)).toBeLessThanOrEqual(1);
    });
    if (x.invalidDate === 'encode error') {
      it('an invalid Date fails with an Encode error', () => {
        expectRpcError(() => codec.encode(new Date(NaN)), 'Encode');
      });
    } else {
      it('an invalid Date comes back as an invalid Date', () => {
        const out = roundTrip(codec, new Date(NaN));
        expect(out).toBeInstanceOf(Date);
        expect((out as Date).getTime()).toBeNaN();
      });
    }
  });
}

function encodeFailures(codec: CodecUnderTest): void {
  describe('values it cannot encode', () => {
    it('a function fails with an Encode error', () => expectRpcError(() => codec.encode({ f: () => 1 }), 'Encode'));
    it('a symbol fails with an Encode error', () => expectRpcError(() => codec.encode([Symbol('s')]), 'Encode'));
    it('a cycle fails with an Encode error, and the codec still works after', () => {
      const cyclic: Record<string, unknown> = { a: 1 };
      cyclic.self = cyclic;
      expectRpcError(() => codec.encode(cyclic), 'Encode');
      expect(roundTrip(codec, { after: [1, 'two'] })).toEqual({ after: [1, 'two'] });
    });
  });
}

/** Valid values of every kind the codec supports, as seeds for truncation and mutation. */
function sampleValues(x: CodecExpectations): unknown[] {
  const map = x.map === 'Map' ? new Map([['k', 1]]) : { k: 1 };
  const set = x.set === 'Set' ? new Set([1]) : [1];
  return [
    { id: 1, name: 'n', list: [1, 2.5, 'three', null, true], nested: { map, d: new Date(1000) } },
    [2n ** 64n - 1n, -(2n ** 63n), new Uint8Array([1, 2, 3]), 'é漢👍', set],
    'x'.repeat(300),
    patterned(300),
  ];
}

function decodeFailures(codec: CodecUnderTest, x: CodecExpectations): void {
  describe('bytes it cannot decode', () => {
    it('an empty buffer fails with a Decode error', () => expectRpcError(() => codec.decode(new Uint8Array(0)), 'Decode'));
    it('every truncation of a valid message fails with a Decode error', () => {
      for (const value of sampleValues(x)) {
        const encoded = codec.encode(value);
        for (let end = 0; end < encoded.length; end++) {
          expectRpcError(() => codec.decode(encoded.slice(0, end)), 'Decode');
        }
      }
    });
    it('a valid message followed by more bytes fails with a Decode error', () => {
      for (const tail of [[0x00], [0x01, 0x02], [0xff]]) {
        expectRpcError(() => codec.decode(new Uint8Array([...codec.encode({ a: 1 }), ...tail])), 'Decode');
      }
    });
    const invalid = x.invalidBytes.map((b) => [Buffer.from(b).toString('hex'), b] as const);
    it.each(invalid)('invalid bytes %s fail with a Decode error', (_, b) => {
      expectRpcError(() => codec.decode(b), 'Decode');
    });
  });
}

function fuzz(codec: CodecUnderTest, x: CodecExpectations): void {
  describe('fuzz', () => {
    it('decoding random and mutated bytes returns a value or throws a Decode error, nothing else', () => {
      const random = seededRandom(0x5e1e);
      const valid = sampleValues(x).map((v) => codec.encode(v));
      const inputs = [...randomBuffers(random, 3000), ...mutatedBuffers(random, valid, 3000)];
      let rejected = 0;
      for (const input of inputs) {
        try {
          codec.decode(input);
        } catch (e) {
          const hex = Buffer.from(input).toString('hex');
          if (!isRpcError(e, 'Decode')) throw new Error(`decoding ${hex} threw ${String(e)}: decode must throw only RpcError(Decode) (wrap a library's exception with @skein/core's decodeError(codecName, err))`, { cause: e });
          rejected++;
        }
      }
      expect(rejected).toBeGreaterThan(inputs.length / 4);
    });
    it('the codec still round-trips after decoding garbage', () => {
      for (const input of randomBuffers(seededRandom(7), 500)) {
        try {
          codec.decode(input);
        } catch {
          // Only the state left behind matters here.
        }
      }
      const value = sampleValues(x)[0];
      expect(roundTrip(codec, value)).toEqual(value);
    });
  });
}
