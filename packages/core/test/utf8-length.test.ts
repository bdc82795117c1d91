import { describe, expect, it } from 'vitest';
import { utf8Length } from '../src/index.js';

const encoder = new TextEncoder();

describe('utf8Length: the bytes a string takes as UTF-8, counted without encoding it', () => {
  it.each([
    ['the empty string', '', 0],
    ['ASCII', 'skein.Echo/call-1', 17],
    ['two-byte characters', 'éЖ', 4],
    ['three-byte characters', '中€', 6],
    ['an astral character (a surrogate pair): four bytes, not two threes', '😀', 4],
    ['astral characters among others', 'a𝄞é😀中', 1 + 4 + 2 + 4 + 3],
    ['a lone high surrogate: three, as U+FFFD', '\ud800', 3],
    ['a lone low surrogate: three', '\udc00', 3],
    ['a high surrogate at the end, after text', 'ab\udbff', 5],
    ['a low before a high (no pair): three each', '\udc00\ud800', 6],
    ['two highs then a low: one lone, then a pair', '\ud800\ud800\udc00', 3 + 4],
    ['a high then a non-surrogate: three, and what follows', '\ud800a', 4],
    ['a high then a two-byte character: three, then two', '\ud800é', 5],
    ['two lows (no pair): three each', '\udc00\udc00', 6],
  ])('%s', (_name, s, bytes) => {
    expect(utf8Length(s)).toBe(bytes);
    // TextEncoder writes a lone surrogate as U+FFFD, three bytes: the same count.
    expect(encoder.encode(s).length).toBe(bytes);
  });

  it('is what TextEncoder writes, on strings of every width and lone surrogates', () => {
    // Seeded, so that a failure is the same string again.
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const units = [0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xffff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0x4e2d];
    for (let n = 0; n < 2000; n++) {
      const s = String.fromCharCode(...Array.from({ length: Math.floor(next() * 12) }, () => units[Math.floor(next() * units.length)]!));
      expect(utf8Length(s), JSON.stringify(s)).toBe(encoder.encode(s).length);
    }
  });
});
