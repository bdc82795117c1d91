// Random values and random CBOR bytes for the fast path's differential test, from a seeded
// generator so that a failure replays.

export type Random = () => number;

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const below = (random: Random, n: number): number => Math.floor(random() * n);

/** Every boundary between two CBOR head forms, and where cbor-x turns to float 64. */
const BOUNDARIES = [0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1, 2 ** 53, 2 ** 64];

function randomNumber(random: Random): number {
  switch (below(random, 6)) {
    case 0: {
      const edge = pick(random, BOUNDARIES) + pick(random, [-1, 0, 0, 1]);
      return random() < 0.5 ? edge : -edge;
    }
    case 1:
      return pick(random, [-0, NaN, Infinity, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE, 0.5, -1.5]);
    case 2:
      return Math.floor((random() - 0.5) * 2 ** (1 + below(random, 60)));
    case 3:
      return (random() - 0.5) * 10 ** (below(random, 40) - 20);
    default:
      return below(random, 100000);
  }
}

const CHARACTERS = [
  ...['a', '\u0000', '\u007f'], // ASCII edges
  ...['\u0080', 'é', '\u07ff'], // 2 bytes
  ...['\u0800', '€', '\uffff', '\ufeff'], // 3 bytes, a BOM among them
  ...['😀', '\u{10ffff}'], // surrogate pairs: 4 bytes
  ...['\ud800', '\udbff', '\udc00', '\udfff'], // lone surrogates
];

/** Lengths on both sides of every threshold: heads (23/24, 255/256), cbor-x's engine writer (64 units), the decoder's (24). */
const LENGTHS = [0, 1, 7, 8, 22, 23, 24, 25, 31, 32, 63, 64, 65, 85, 86, 100, 255, 256, 300];

function randomString(random: Random): string {
  const length = random() < 0.05 ? below(random, 3000) : pick(random, LENGTHS);
  const ascii = random() < 0.6;
  let text = '';
  while (text.length < length) text += ascii || random() < 0.7 ? String.fromCharCode(32 + below(random, 95)) : pick(random, CHARACTERS);
  return text.slice(0, length); // a pair cut in two leaves a lone surrogate
}

function randomContainer(random: Random, depth: number): unknown {
  const size = random() < 0.2 ? pick(random, [23, 24, 25]) : below(random, 6);
  if (random() < 0.5) {
    const array: unknown[] = [];
    for (let i = 0; i < size; i++) array.push(randomPlain(random, depth + 1));
    if (random() < 0.05) array.length += 2; // holes
    return array;
  }
  const object: Record<string, unknown> = {};
  for (let i = 0; i < size; i++) {
    const key = random() < 0.6 ? pick(random, ['a', 'b', 'id', '0', '7', '10', 'ключ', 'k😀']) : randomString(random);
    object[key] = random() < 0.1 ? undefined : randomPlain(random, depth + 1);
  }
  return object;
}

/** A value of only the types the fast path writes. */
export function randomPlain(random: Random, depth = 0): unknown {
  switch (below(random, depth >= 5 ? 7 : 10)) {
    case 0:
      return null;
    case 1:
      return undefined;
    case 2:
      return random() < 0.5;
    case 3:
    case 4:
      return randomNumber(random);
    case 5:
    case 6:
      return randomString(random);
    default:
      return randomContainer(random, depth);
  }
}

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
