// Random msgpack for the fast-path differential test: where msgpack changes form (the options
// of @skein/test-utils' randomPlain), values the library writes its own way, and bytes in forms
// other encoders write. From a seeded generator, so that a failure replays.

import { below, pick, randomPlain, type Random, type RandomValueOptions } from '@skein/test-utils';

/** Plain values of only the types the fast path writes, at msgpack's edges. */
export const MSGPACK_VALUES: RandomValueOptions = {
  // Every boundary between two integer forms, and the safe-integer and int64 edges.
  integerEdges: [
    0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40,
    2 ** 52, 2 ** 53 - 2, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64, 2 ** 70,
  ],
  // Both sides of every threshold: fixstr/str 8/16, the library's TextEncoder (50 units).
  stringLengths: [0, 1, 2, 11, 12, 13, 16, 17, 31, 32, 33, 49, 50, 51, 52, 66, 67, 100, 200, 201, 255, 256, 300],
  longStrings: { chance: 0.1, upTo: 2000 },
  containerSizes: [15, 16, 17], // fixarray/fixmap and the 16-bit forms
  bytes: true,
  nullPrototypeObjects: true,
};

class Point {
  constructor(
    public x = 1,
    public y = 2,
  ) {}
}

/** A plain value with, sometimes, one the library must write somewhere inside it. */
export function randomMixed(random: Random): unknown {
  const odd = (): unknown =>
    pick(random, [
      () => new Date(below(random, 2 ** 40)),
      () => new Map([[1, 'one']]),
      () => new Set(['x']),
      () => BigInt(below(random, 1000)) - 500n,
      () => 2n ** 63n,
      () => new Point(),
      () => new Float64Array([1.5]),
      () => new Uint16Array([1, 2]),
      () => new DataView(new ArrayBuffer(3)),
      () => new ArrayBuffer(2),
      () => Symbol('s'),
      () => () => 1,
      () => Object.setPrototypeOf([1, 2], Object.prototype),
      () => JSON.parse('{"__proto__": 1}'),
      () => new String('boxed'),
      () => nested(40),
      () => 'x'.repeat(70000),
      () => new Array(70000).fill(1),
    ])();
  const value = randomPlain(random, MSGPACK_VALUES);
  if (random() < 0.5) return odd();
  return [value, { inner: [odd()] }];
}

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { v: value };
  return value;
}

/**
 * Random msgpack in forms Skein never writes but another encoder may: integers in a wider
 * form than needed, float 32, str 8 for a short string, bin 16 or 32 for a short binary, map 16
 * with 2 entries, number and nil keys, extension types, invalid UTF-8 (in keys too, cut short at a
 * key's end), trailing bytes.
 */
export function randomForeign(random: Random, depth = 0): number[] {
  const out: number[] = [];
  const u = (value: number, bytes: number): void => {
    for (let i = bytes - 1; i >= 0; i--) out.push(Math.floor(value / 2 ** (8 * i)) & 0xff);
  };
  const utf8ish = (length: number): number[] =>
    Array.from({ length }, () => (random() < 0.5 ? 0x61 + below(random, 26) : pick(random, [0x80, 0xbf, 0xc3, 0xe2, 0xed, 0xef, 0xf0, 0xf8, 0xff, 0xa9, 0xbb])));
  const str = (length: number): void => {
    const form = below(random, 4);
    if (form === 0 && length < 32) out.push(0xa0 + length);
    else if (form <= 1 && length < 256) out.push(0xd9, length);
    else if (form <= 2) (out.push(0xda), u(length, 2));
    else (out.push(0xdb), u(length, 4));
    out.push(...utf8ish(length));
  };
  switch (below(random, depth > 3 ? 6 : 9)) {
    case 0:
      out.push(pick(random, [0xc0, 0xc1, 0xc2, 0xc3, below(random, 256)]));
      break;
    case 1: {
      const form = pick(random, [0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3]);
      out.push(form);
      const width = [1, 2, 4, 8][form & 3]!;
      for (let i = 0; i < width; i++) out.push(random() < 0.3 ? pick(random, [0, 0xff, 0x7f, 0x80, 0x1f, 0x20]) : below(random, 256));
      break;
    }
    case 2:
      out.push(pick(random, [0xca, 0xcb]));
      for (let i = 0; i < 8; i++) out.push(below(random, 256));
      if (out[0] === 0xca) out.length = 5;
      break;
    case 3:
      str(pick(random, [0, 1, 3, 16, 17, 40, 201, 250]));
      break;
    case 4: {
      // Both sides of the 64-byte copy/view boundary (COPIED_BINARY_BYTES), in every bin form.
      const length = pick(random, [0, 1, 5, 63, 64, 65, 300]);
      const form = below(random, 3);
      if (form === 0 && length < 256) out.push(0xc4, length);
      else if (form <= 1) (out.push(0xc5), u(length, 2));
      else (out.push(0xc6), u(length, 4));
      for (let i = 0; i < length; i++) out.push(below(random, 256));
      break;
    }
    case 5: {
      const type = pick(random, [0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xc7]);
      out.push(type);
      if (type === 0xc7) out.push(3);
      out.push(pick(random, [0, 1, 0xff, 42]));
      const size = type === 0xc7 ? 3 : [1, 2, 4, 8, 16][type - 0xd4]!;
      for (let i = 0; i < size; i++) out.push(below(random, 256));
      break;
    }
    case 6:
    case 7: {
      const size = below(random, 4);
      if (random() < 0.5) out.push(0x90 + size);
      else (out.push(0xdc), u(size, 2));
      for (let i = 0; i < size; i++) out.push(...randomForeign(random, depth + 1));
      break;
    }
    default: {
      const size = below(random, 4);
      if (random() < 0.5) out.push(0x80 + size);
      else (out.push(0xde), u(size, 2));
      for (let i = 0; i < size; i++) {
        const keyKind = below(random, 10);
        if (keyKind < 6) str(pick(random, [1, 2, 3, 5, 16, 17]));
        else if (keyKind < 8) out.push(...randomForeign(random, 9)); // any scalar as a key
        else out.push(0xa9, ...[0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f]); // "__proto__"
        out.push(...randomForeign(random, depth + 1));
      }
    }
  }
  if (depth === 0 && random() < 0.05) out.push(0xc0); // trailing byte
  return out;
}
