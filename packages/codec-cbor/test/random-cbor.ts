// Random CBOR for the fast path's differential test: where CBOR changes form (the options of
// @skein/test-utils' randomPlain), and bytes in forms cbor-x does not write. From a seeded
// generator, so that a failure replays.

import { below, pick, type Random, type RandomValueOptions } from '@skein/test-utils';

/** Plain values of only the types the fast path writes (no byte strings, no null prototypes), at CBOR's edges. */
export const CBOR_VALUES: RandomValueOptions = {
  // Every boundary between two head forms, and where cbor-x turns to float 64.
  integerEdges: [0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1, 2 ** 53, 2 ** 64],
  // Both sides of every threshold: heads (23/24, 255/256), cbor-x's engine writer (64 units), the decoder's (24).
  stringLengths: [0, 1, 7, 8, 22, 23, 24, 25, 31, 32, 63, 64, 65, 85, 86, 100, 255, 256, 300],
  longStrings: { chance: 0.05, upTo: 3000 },
  containerSizes: [23, 24, 25], // heads of one byte and of two
  bytes: false,
  nullPrototypeObjects: false,
};

/**
 * CBOR that cbor-x does not write for a plain value, or not at all: heads longer than needed,
 * 64-bit arguments, other simple values, floats of 16 and 32 bits, tags, byte strings,
 * indefinite lengths, invalid UTF-8, keys of other types and `__proto__`, trailing bytes.
 */
export function randomForeign(random: Random, depth = 0): number[] {
  const out: number[] = [];
  const head = (major: number, n: number): void => {
    const form = below(random, 5);
    if (form === 0 && n < 24) return void out.push((major << 5) | n);
    if (form <= 1 && n < 256) return void out.push((major << 5) | 24, n);
    if (form <= 2 && n < 65536) return void out.push((major << 5) | 25, n >> 8, n & 255);
    if (form <= 3) return void out.push((major << 5) | 26, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255);
    out.push((major << 5) | 27, 0, 0, 0, 0, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255);
  };
  const text = (length: number): void => {
    head(3, length);
    // Letters, and bytes of UTF-8 sequences in any order: valid ones sometimes, invalid ones often.
    const odd = [0x80, 0xbf, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xed, 0xa0, 0xef, 0xf0, 0x9f, 0xff];
    for (let i = 0; i < length; i++) out.push(random() < 0.8 ? 0x61 + below(random, 26) : pick(random, odd));
  };
  switch (below(random, depth > 3 ? 6 : 9)) {
    case 0:
      out.push(pick(random, [0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xe0, 0xff, 0x1c, below(random, 256)]));
      break;
    case 1:
      head(below(random, 2), pick(random, [0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, below(random, 2 ** 32)]));
      break;
    case 2: {
      const form = pick(random, [0xf9, 0xfa, 0xfb]);
      out.push(form);
      for (let i = 0; i < (form === 0xf9 ? 2 : form === 0xfa ? 4 : 8); i++) out.push(below(random, 256));
      break;
    }
    case 3:
      text(pick(random, [0, 1, 3, 23, 24, 25, 40, 200]));
      break;
    case 4: {
      const length = pick(random, [0, 1, 5]);
      head(2, length);
      for (let i = 0; i < length; i++) out.push(below(random, 256));
      break;
    }
    case 5:
      head(6, pick(random, [0, 1, 2, 3, 258, 259, 1000]));
      out.push(...randomForeign(random, depth + 1));
      break;
    case 6:
    case 7: {
      const size = below(random, 4);
      const indefinite = random() < 0.15;
      if (indefinite) out.push(0x9f);
      else head(4, size);
      for (let i = 0; i < size; i++) out.push(...randomForeign(random, depth + 1));
      if (indefinite) out.push(0xff);
      break;
    }
    default: {
      const size = below(random, 4);
      head(5, size);
      for (let i = 0; i < size; i++) {
        const kind = below(random, 10);
        if (kind < 6) text(pick(random, [1, 2, 3, 24, 25]));
        else if (kind < 8) out.push(...randomForeign(random, 9)); // any scalar as a key
        else out.push(0x69, ...Buffer.from('__proto__'));
        out.push(...randomForeign(random, depth + 1));
      }
    }
  }
  if (depth === 0 && random() < 0.05) out.push(0xf6); // a trailing byte
  return out;
}
