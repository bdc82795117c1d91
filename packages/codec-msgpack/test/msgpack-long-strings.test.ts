import { describe, expect, it } from 'vitest';
import { hex } from '@skein/test-utils';
import { FastEncoder, MAX_BYTES } from '../src/fast-encode.js';
import { libraryCoders } from '../src/library-coders.js';

// Long strings (over 50 UTF-16 units) are written with TextEncoder.encodeInto and no JS count of
// their bytes: by the fast path into what the message may still take (src/fast-encode.ts), by
// the library encoder into its buffer, a second call for the rest when it ran out
// (src/library-strings.ts). Both must write the library's own bytes (utf8Count, then
// encodeInto) wherever encodeInto stops: before a surrogate pair, a lone surrogate, a 2- or
// 3-byte character, and where the header's form changes.

/** The library's own string writer, set up as the codec sets it up. */
const reference = libraryCoders({ libraryStrings: true }).encoder;

/** Characters encodeInto may stop before: a pair (4 bytes), lone surrogates (U+FFFD, 3), 2 and 3 bytes. */
const EDGES = ['😀', '\ud800', '\udc00', 'é', '€'];

describe('msgpack long strings: the fast path', () => {
  it('writes a long string ending at the 64 KiB budget as the library does, or leaves it to the library only past it', () => {
    const fast = new FastEncoder({ ignoreUndefined: false, sortKeys: false, maxDepth: 100 });
    // [bin, string]: the bin moves the string's end across MAX_BYTES a byte at a time. The
    // second string's header grows past the one its units ask for (str 8 → str 16).
    for (const [text, edge] of ['€'.repeat(20_000), 'a'.repeat(64) + '€'.repeat(150)].flatMap((text) => EDGES.map((edge) => [text, edge]))) {
      const value = text! + edge + 'tail';
      const bytes = new TextEncoder().encode(value).length;
      for (let fill = MAX_BYTES - bytes - 12; fill < MAX_BYTES - bytes + 4; fill++) {
        const message = [new Uint8Array(fill), value];
        const expected = reference.encode(message);
        const got = fast.encode(message);
        // Null only where the string's bytes and the header's widest form (5) pass the budget.
        if (got === null) expect(expected.length, `${JSON.stringify(edge)} fill ${fill}`).toBeGreaterThan(MAX_BYTES - 2);
        else expect(hex(got)).toBe(hex(expected));
      }
    }
  });

  it('writes strings on both sides of 50 units and of each header form as the library does, wherever they start in a chunk', () => {
    const fast = new FastEncoder({ ignoreUndefined: false, sortKeys: false, maxDepth: 100 });
    for (const edge of EDGES) {
      for (const units of [49, 50, 51, 52, 127, 128, 129, 255, 256, 21_000, 21_900]) {
        // ASCII up to the edge character, then 3-byte characters: from 128 units the header
        // guessed from the units (str 8) is too small (str 16); 3 bytes a unit fit the budget at
        // 21,000 units (unless after 8 KB), not at 21,900.
        const value = 'a'.repeat(units >> 1) + edge + '€'.repeat(units - (units >> 1) - edge.length);
        for (const before of [0, 1, 3000, 8180]) {
          const message = ['x'.repeat(before), value];
          const expected = reference.encode(message);
          const got = fast.encode(message);
          if (got === null) expect(expected.length).toBeGreaterThan(MAX_BYTES - 2);
          else expect(hex(got), `${JSON.stringify(edge)} ${units} units after ${before}`).toBe(hex(expected));
        }
      }
    }
  });
});

describe('msgpack long strings: the library encoder (messages the fast path leaves to it)', () => {
  it('writes them as the library does when encodeInto runs out of buffer right at a wide character', () => {
    // A fresh encoder has 2048 bytes: a string of up to 2043 units is written into 2043 bytes
    // first, the rest after the buffer grows. The edge lands on each byte around that end.
    for (const edge of EDGES) {
      for (let shift = -6; shift <= 6; shift++) {
        const value = '€'.repeat(600) + 'a'.repeat(243 + shift) + edge + '€'.repeat(40);
        const { encoder } = libraryCoders({});
        expect(hex(encoder.encode(value)), `${JSON.stringify(edge)} shift ${shift}`).toBe(hex(reference.encode(value)));
        // Again, from the grown buffer, and after other values in the same message.
        expect(hex(encoder.encode([1, value, 'é'.repeat(60), value]))).toBe(hex(reference.encode([1, value, 'é'.repeat(60), value])));
      }
    }
  });

  it('writes them as the library does when the string ends at the end of the buffer and its header grows', () => {
    // 253 units, 256 bytes (str 16, where its units ask for str 8), placed by a bin so that
    // the string's bytes end around the 2048th byte of a fresh encoder's buffer.
    for (const text of ['a'.repeat(250) + 'é'.repeat(3), 'a'.repeat(248) + '😀' + 'é' + '\ud800']) {
      for (let fill = 1780; fill < 1795; fill++) {
        const value = [new Uint8Array(fill), text];
        expect(hex(libraryCoders({}).encoder.encode(value)), `fill ${fill}`).toBe(hex(reference.encode(value)));
      }
    }
  });

  it('writes strings over 64 KiB as the library does, every header form, ASCII or not, keys too', () => {
    const { encoder } = libraryCoders({});
    const values = [
      'a'.repeat(300_000),
      '€'.repeat(30_000), // 90,000 bytes: str 16 guessed from the units, str 32 written
      '😀'.repeat(40_000) + '\ud800', // pairs, a lone surrogate at the very end
      '\udc00' + '日本語テキスト'.repeat(20_000),
      { ['k'.repeat(100) + '€'.repeat(100)]: 'v'.repeat(70_000), x: ['é'.repeat(100), '€'.repeat(60)] },
    ];
    for (const value of values) expect(hex(encoder.encode(value))).toBe(hex(reference.encode(value)));
  });
});
