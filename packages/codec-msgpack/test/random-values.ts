// Random values and random msgpack bytes for the fast-path differential test, from a seeded
// generator so that a failure replays.

export type Random = () => number;

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const below = (random: Random, n: number): number => Math.floor(random() * n);

/** Every boundary between two msgpack integer forms, and the safe-integer and int64 edges. */
const BOUNDARIES = [
  0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40,
  2 ** 52, 2 ** 53 - 2, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64, 2 ** 70,
];

export function randomNumber(random: Random): number {
  switch (below(random, 9)) {
    case 0: {
      const edge = pick(random, BOUNDARIES) + pick(random, [-1, 0, 0, 1]);
      return random() < 0.5 ? edge : -edge;
    }
    case 1:
      return pick(random, [-0, NaN, Infinity, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE, -Number.EPSILON, 0.5]);
    case 2:
      return below(random, 128) - 32; // the fixints and a little beyond
    case 3: // an integer of random width, either sign
      return Math.floor((random() - 0.5) * 2 ** (1 + below(random, 60)));
    case 4:
      return Math.fround((random() - 0.5) * 2 ** below(random, 40)); // exact as float 32
    case 5:
      return (random() - 0.5) * 10 ** (below(random, 40) - 20);
    case 6: {
      const view = new DataView(new ArrayBuffer(8));
      for (let i = 0; i < 8; i++) view.setUint8(i, below(random, 256));
      return view.getFloat64(0); // any bit pattern, subnormals and NaNs among them
    }
    default:
      return below(random, 100000);
  }
}

const CHARACTERS = [
  'a', 'Z', '0', ' ', '~', '\u0000', '\u007f', // ASCII edges
  '\u0080', 'é', '\u07ff', // 2 bytes
  '\u0800', '€', '\uffff', '\ufeff', // 3 bytes, a BOM among them
  '😀', '\u{10ffff}', // surrogate pairs: 4 bytes
  '\ud800', '\udbff', '\udc00', '\udfff', // lone surrogates
];

/** Lengths on both sides of every threshold: fixstr/str 8/16, the library's TextEncoder (50 units). */
const LENGTHS = [0, 1, 2, 11, 12, 13, 16, 17, 31, 32, 33, 49, 50, 51, 52, 66, 67, 100, 200, 201, 255, 256, 300];

export function randomString(random: Random): string {
  const length = random() < 0.1 ? below(random, 2000) : pick(random, LENGTHS);
  const ascii = random() < 0.6;
  let text = '';
  while (text.length < length) {
    text += ascii || random() < 0.7 ? String.fromCharCode(32 + below(random, 95)) : pick(random, CHARACTERS);
  }
  // Cut to the length (a surrogate pair cut in two leaves a lone surrogate, also worth a try).
  return text.slice(0, length);
}

export function randomBytes(random: Random): Uint8Array {
  const length = pick(random, [0, 1, 16, 255, 256, 300, 1000, 4000]);
  const backing = new Uint8Array(length + 8);
  for (let i = 0; i < backing.length; i++) backing[i] = below(random, 256);
  const offset = below(random, 8);
  const bytes = backing.subarray(offset, offset + length);
  return random() < 0.2 ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
}

/** Arrays and objects with item counts around 15/16 (fix and 16-bit forms) and what they may hold. */
function randomContainer(random: Random, depth: number): unknown {
  const size = random() < 0.2 ? pick(random, [15, 16, 17]) : below(random, 6);
  if (random() < 0.5) {
    const array: unknown[] = [];
    for (let i = 0; i < size; i++) array.push(randomPlain(random, depth + 1));
    if (random() < 0.05) array.length += 2; // holes
    return array;
  }
  const object: Record<string, unknown> = random() < 0.1 ? Object.create(null) : {};
  for (let i = 0; i < size; i++) {
    const key = random() < 0.6 ? pick(random, ['a', 'b', 'id', 'name', '0', '7', '10', 'ключ', 'k😀']) : randomString(random);
    object[key] = random() < 0.1 ? undefined : randomPlain(random, depth + 1);
  }
  return object;
}

/** A value of only the types the fast path writes, nested at most `maxDepth` deep. */
export function randomPlain(random: Random, depth = 0, maxDepth = 5): unknown {
  const roll = below(random, depth >= maxDepth ? 8 : 11);
  switch (roll) {
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
    case 7:
      return randomBytes(random);
    default:
      return randomContainer(random, depth);
  }
}

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
  const value = randomPlain(random);
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
 * form than needed, float 32, str 8 for a short string, map 16 with 2 entries, number and nil
 * keys, extension types, invalid UTF-8 (in keys too, cut short at a key's end), trailing bytes.
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
      const length = pick(random, [0, 1, 5, 300]);
      out.push(0xc4, ...(length > 255 ? [] : [length]));
      if (length > 255) (out.splice(0, 1, 0xc5), u(length, 2));
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
