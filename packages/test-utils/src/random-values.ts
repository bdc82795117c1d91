/**
 * Random plain values (null, undefined, booleans, numbers, strings, byte arrays, arrays and
 * objects) for the codecs' differential tests, drawn from a seeded generator (`seededRandom`) so
 * that a failure replays. What a format makes of them differs, so its edges come in as options:
 * the integers and lengths where it changes form, and which values its fast path writes.
 */

export type Random = () => number;

/** One of `items`, each as likely. */
export const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
/** A whole number from 0 to `n - 1`. */
export const below = (random: Random, n: number): number => Math.floor(random() * n);

export interface RandomValueOptions {
  /** Integers where the format changes form: each is tried as it is and ±1, either sign. */
  integerEdges: readonly number[];
  /** String lengths (in UTF-16 units) on both sides of the format's and its writer's thresholds. */
  stringLengths: readonly number[];
  /** How often a string is of any length up to `upTo` instead, and that length. */
  longStrings: { chance: number; upTo: number };
  /** Item counts on both sides of where the format's array and map heads change form. */
  containerSizes: readonly number[];
  /** Whether byte arrays (Uint8Array views at an offset, and Buffers) are among the values. */
  bytes: boolean;
  /** Whether objects are sometimes of a null prototype. */
  nullPrototypeObjects: boolean;
  /** How deep containers nest at the most; 5 unless told. */
  maxDepth?: number;
}

/** A random plain value; the options say which, and where the format's edges are. */
export function randomPlain(random: Random, options: RandomValueOptions): unknown {
  return plainAt(random, options, 0);
}

function plainAt(random: Random, options: RandomValueOptions, depth: number): unknown {
  const scalars = options.bytes ? 8 : 7;
  const roll = below(random, depth >= (options.maxDepth ?? 5) ? scalars : scalars + 3);
  switch (roll) {
    case 0:
      return null;
    case 1:
      return undefined;
    case 2:
      return random() < 0.5;
    case 3:
    case 4:
      return randomNumber(random, options.integerEdges);
    case 5:
    case 6:
      return randomString(random, options);
    default:
      return roll < scalars ? randomBytes(random) : randomContainer(random, options, depth);
  }
}

const SPECIAL_NUMBERS = [-0, NaN, Infinity, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE, -Number.EPSILON, 0.5, -1.5];

/** A number of any kind a format may write its own way: edges, specials, float 32, any bit pattern. */
function randomNumber(random: Random, integerEdges: readonly number[]): number {
  switch (below(random, 9)) {
    case 0: {
      const edge = pick(random, integerEdges) + pick(random, [-1, 0, 0, 1]);
      return random() < 0.5 ? edge : -edge;
    }
    case 1:
      return pick(random, SPECIAL_NUMBERS);
    case 2:
      return below(random, 128) - 32; // the small integers written in the first byte, and a little beyond
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
  ...['a', 'Z', '0', ' ', '~', '\u0000', '\u007f'], // ASCII edges
  ...['\u0080', 'é', '\u07ff'], // 2 bytes
  ...['\u0800', '€', '\uffff', '\ufeff'], // 3 bytes, a BOM among them
  ...['😀', '\u{10ffff}'], // surrogate pairs: 4 bytes
  ...['\ud800', '\udbff', '\udc00', '\udfff'], // lone surrogates
];

/** A string of one of the lengths asked for, ASCII or not. */
function randomString(random: Random, options: Pick<RandomValueOptions, 'stringLengths' | 'longStrings'>): string {
  const { chance, upTo } = options.longStrings;
  const length = random() < chance ? below(random, upTo) : pick(random, options.stringLengths);
  const ascii = random() < 0.6;
  let text = '';
  while (text.length < length) {
    text += ascii || random() < 0.7 ? String.fromCharCode(32 + below(random, 95)) : pick(random, CHARACTERS);
  }
  // Cut to the length (a surrogate pair cut in two leaves a lone surrogate, also worth a try).
  return text.slice(0, length);
}

/** Random bytes, a view at an offset into a larger buffer, sometimes a Buffer. */
function randomBytes(random: Random): Uint8Array {
  const length = pick(random, [0, 1, 16, 255, 256, 300, 1000, 4000]);
  const backing = new Uint8Array(length + 8);
  for (let i = 0; i < backing.length; i++) backing[i] = below(random, 256);
  const offset = below(random, 8);
  const bytes = backing.subarray(offset, offset + length);
  return random() < 0.2 ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
}

const KEYS = ['a', 'b', 'id', 'name', '0', '7', '10', 'ключ', 'k😀'];

function randomContainer(random: Random, options: RandomValueOptions, depth: number): unknown {
  const size = random() < 0.2 ? pick(random, options.containerSizes) : below(random, 6);
  if (random() < 0.5) {
    const array: unknown[] = [];
    for (let i = 0; i < size; i++) array.push(plainAt(random, options, depth + 1));
    if (random() < 0.05) array.length += 2; // holes
    return array;
  }
  const object: Record<string, unknown> = options.nullPrototypeObjects && random() < 0.1 ? Object.create(null) : {};
  for (let i = 0; i < size; i++) {
    const key = random() < 0.6 ? pick(random, KEYS) : randomString(random, options);
    object[key] = random() < 0.1 ? undefined : plainAt(random, options, depth + 1);
  }
  return object;
}
