import { afterEach, describe, expect, it } from 'vitest';
import { hex } from '@skein/test-utils';
import { msgpack } from '../src/index.js';
import { FastEncoder } from '../src/fast-encode.js';
import { libraryCoders } from '../src/library-coders.js';

// How the fast path walks and reads map keys: the encoder lists an object's keys with for..in
// rather than Object.keys (src/fast-encode.ts, writeOwnKeys), the decoder finds keys of up to 4
// bytes by their bytes as one number (src/key-cache.ts). Both must give what Object.keys and
// plain UTF-8 decoding give, whatever a getter does meanwhile.

/** The library's bytes for a value a getter changes: made from a value of its own. */
function libraryHex(make: () => object): string {
  return hex(libraryCoders({}).encoder.encode(make()));
}

describe('msgpack encode: the keys of a plain object', () => {
  const fast = (): FastEncoder => new FastEncoder({ ignoreUndefined: false, sortKeys: false, maxDepth: 100 });

  afterEach(() => {
    delete (Object.prototype as Record<string, unknown>).inherited;
  });

  it('leaves out an enumerable key Object.prototype was given, as Object.keys does', () => {
    (Object.prototype as Record<string, unknown>).inherited = 1;
    const value = { a: 1, b: { c: 2 } };
    expect(hex(msgpack().encode(value))).toBe('82a16101a16281a16302');
  });

  it('writes a later key a getter deleted as nil, as the library does from its Object.keys list', () => {
    const make = (): object => ({
      get a() {
        delete (this as Record<string, unknown>).b;
        return 1;
      },
      b: 2,
      c: 3,
    });
    expect(libraryHex(make)).toBe('83a16101a162c0a16303');
    expect(hex(fast().encode(make())!)).toBe(libraryHex(make));
  });

  it('writes a map of more keys than it holds at a time itself, with the library bytes, nested or not', () => {
    const wide = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i]));
    for (const value of [wide, { a: 1, wide, z: { y: 2 } }]) {
      const bytes = fast().encode(value);
      expect(bytes).not.toBeNull();
      expect(hex(bytes!)).toBe(hex(libraryCoders({}).encoder.encode(value)));
    }
  });
});

describe('msgpack decode: short keys', () => {
  it('reads every key of 1 to 4 bytes as itself, first seen or found again, however many share a slot', () => {
    // 1 to 4 bytes of NUL, ASCII and 2-, 3- and 4-byte UTF-8 sequences: more keys than slots.
    const pieces = ['\0', 'a', 'b', '~', 'é', '€', '😀'];
    const keys = new Set<string>();
    const grow = (key: string): void => {
      if (Buffer.byteLength(key) > 4) return;
      if (key !== '') keys.add(key);
      for (const piece of pieces) grow(key + piece);
    };
    grow('');
    expect(keys.size).toBeGreaterThan(256);
    const { encoder } = libraryCoders({});
    const codec = msgpack();
    for (let round = 0; round < 2; round++) {
      for (const key of keys) {
        const decoded = codec.decode(encoder.encode({ [key]: 1, x: key })) as Record<string, unknown>;
        expect(Object.keys(decoded)).toEqual([key, 'x']);
        expect(decoded.x).toBe(key);
      }
    }
  });
});
