// Random msgpack for the hand-off differential test (msgpack-handoff-fuzz.test.ts): messages
// where the fast path meets values it hands to the library (extensions, number and odd map
// keys, nesting past its 32 levels) at random depths, and damaged copies of them. Raw bytes,
// not values: an encoder writes no number key, no unknown extension and no broken header.

import { below, pick, type Random } from '@skein/test-utils';

type Bytes = number[];

const u = (out: Bytes, value: number, width: number): void => {
  for (let i = width - 1; i >= 0; i--) out.push(Math.floor(value / 2 ** (8 * i)) & 0xff);
};

function arrayHeader(out: Bytes, random: Random, size: number): void {
  if (size < 16 && random() < 0.7) out.push(0x90 + size);
  else if (random() < 0.5) (out.push(0xdc), u(out, size, 2));
  else (out.push(0xdd), u(out, size, 4));
}

function mapHeader(out: Bytes, random: Random, size: number): void {
  if (size < 16 && random() < 0.7) out.push(0x80 + size);
  else if (random() < 0.5) (out.push(0xde), u(out, size, 2));
  else (out.push(0xdf), u(out, size, 4));
}

/** A string of `length` bytes, mostly ASCII from a small alphabet (so keys repeat and the key cache hits), sometimes not UTF-8. */
function str(out: Bytes, random: Random, length: number): void {
  if (length < 32 && random() < 0.6) out.push(0xa0 + length);
  else if (length < 256 && random() < 0.5) out.push(0xd9, length);
  else if (random() < 0.5) (out.push(0xda), u(out, length, 2));
  else (out.push(0xdb), u(out, length, 4));
  for (let i = 0; i < length; i++) out.push(random() < 0.97 ? 0x61 + below(random, 4) : pick(random, [0x80, 0xc3, 0xe2, 0xff]));
}

/** An extension value: a Date (timestamp 32/64/96), a Map or Set of `inner` values, or an unknown type. */
function extension(out: Bytes, random: Random, depth: number, inner: (depth: number) => Bytes): void {
  const kind = below(random, 6);
  if (kind === 0) out.push(0xd6, 0xff, ...Array.from({ length: 4 }, () => below(random, 256)));
  else if (kind === 1) out.push(0xd7, 0xff, below(random, 4) << 2, ...Array.from({ length: 7 }, () => below(random, 256)));
  else if (kind === 2) out.push(0xc7, 12, 0xff, 0, 0, 0, below(random, 4), ...Array.from({ length: 8 }, () => below(random, 256)));
  else if (kind === 5) out.push(...pick(random, [[0xd4, 7, 1], [0xd5, 42, 1, 2], [0xd4, 0x80, 0]]));
  else {
    // A Set (type 0) of values, or a Map (type 1) of [key, value] pairs (sometimes not pairs).
    const payload: Bytes = [];
    const size = below(random, 4);
    arrayHeader(payload, random, size);
    for (let i = 0; i < size; i++) {
      if (kind === 4 && random() < 0.95) payload.push(0x92, ...inner(depth + 2), ...inner(depth + 2));
      else payload.push(...inner(depth + 1));
    }
    if (payload.length < 256) out.push(0xc7, payload.length);
    else (out.push(0xc8), u(out, payload.length, 2));
    out.push(kind === 4 ? 1 : 0, ...payload);
  }
}

/**
 * The string keys of 1 to 16 bytes a message may hold: 3 of each length, fewer than the key
 * cache keeps, so that once read (CACHED_KEYS) each is found in it, by the codec and the library
 * alike. Whether a key counts for maxContainers depends on the cache (a key it holds is no new
 * string), which the codec and the reference share: a key cached by one would not count in the
 * other. Longer keys, and keys cut short inside a UTF-8 sequence, are never cached: they count.
 */
const KEY_POOL: Bytes[] = [1, 2, 3, 8, 16].flatMap((length) =>
  [0x61, 0x62, 0xe2].map((first) => [0xa0 + length, first, ...new Array<number>(length - 1).fill(0x63 + (length % 3))]),
);

/** A map of every pooled key, to read once before the comparisons. */
export const CACHED_KEYS = Uint8Array.from([0x80 + KEY_POOL.length, ...KEY_POOL.flatMap((key) => [...key, 0xc0])]);

/** A map key: mostly strings (16 bytes or less: cached; longer: not), then numbers, nil, __proto__, containers. */
function key(out: Bytes, random: Random, depth: number, value: (depth: number) => Bytes): void {
  const kind = below(random, 20);
  if (kind < 9) out.push(...pick(random, KEY_POOL));
  else if (kind < 13) str(out, random, pick(random, [0, 17, 40]));
  else if (kind < 16) out.push(...pick(random, [[below(random, 128)], [0xe0 + below(random, 32)], [0xcb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0], [0xcf, 0xff, 0, 0, 0, 0, 0, 0, 1], [0xd0, 0x80]]));
  else if (kind === 16) out.push(0xc0);
  else if (kind === 17) out.push(0xa9, 0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f);
  else out.push(...value(depth));
}

/** A valid-looking message of about 4 to 44 values of every kind, containers nesting up to `maxLevels` levels. */
export function randomMessage(random: Random, maxLevels: number): Bytes {
  // Values left to make: containers stop branching once it runs out, so a message stays small.
  let left = 4 + below(random, 40);
  const value = (depth: number): Bytes => {
    const out: Bytes = [];
    const kind = below(random, depth >= maxLevels || --left < 0 ? 5 : 10);
    if (kind === 0) out.push(pick(random, [0xc0, 0xc2, 0xc3, below(random, 128), 0xe0 + below(random, 32)]));
    else if (kind === 1) {
      const form = pick(random, [0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xca, 0xcb]);
      out.push(form, ...Array.from({ length: form === 0xca ? 4 : form === 0xcb ? 8 : [1, 2, 4, 8][form & 3]! }, () => pick(random, [0, 0xff, 0x7f, 0x80, below(random, 256)])));
    } else if (kind === 2) str(out, random, pick(random, [0, 1, 2, 5, 13, 25, 70, 300]));
    else if (kind === 3) {
      // Both sides of the 64-byte copy/view boundary (COPIED_BINARY_BYTES), in every bin form.
      const length = pick(random, [0, 1, 3, 63, 64, 65, 300]);
      if (length < 256 && random() < 0.7) out.push(0xc4, length);
      else if (random() < 0.5) (out.push(0xc5), u(out, length, 2));
      else (out.push(0xc6), u(out, length, 4));
      for (let i = 0; i < length; i++) out.push(below(random, 256));
    } else if (kind === 4) extension(out, random, depth, value);
    else if (kind <= 6) {
      // Deep runs of one-item arrays reach past the fast path's 32 levels.
      if (random() < 0.1) {
        const run = Math.min(maxLevels - depth, 1 + below(random, 40));
        for (let i = 0; i < run; i++) out.push(0x91);
        out.push(...value(depth + run));
      } else {
        const size = below(random, 5);
        arrayHeader(out, random, size);
        for (let i = 0; i < size; i++) out.push(...value(depth + 1));
      }
    } else {
      const size = below(random, 5);
      mapHeader(out, random, size);
      for (let i = 0; i < size; i++) {
        key(out, random, depth + 1, value);
        out.push(...value(depth + 1));
      }
    }
    return out;
  };
  return value(1);
}

/** Extension headers, some claiming more bytes than any message holds. */
const EXTENSION_HEADERS: Bytes[] = [
  [0xd4, 0x00],
  [0xd5, 0x01],
  [0xd6, 0xff],
  [0xd7, 0xff],
  [0xd8, 0x2a],
  [0xc7, 0x02, 0x00],
  [0xc7, 0x03, 0x01],
  [0xc8, 0xff, 0xff, 0x00],
  [0xc9, 0xff, 0xff, 0xff, 0xff, 0x01],
];

/** Headers claiming a huge length or count. */
const HUGE_CLAIMS: Bytes[] = [
  [0xdd, 0xff, 0xff, 0xff, 0xff],
  [0xdc, 0xff, 0xff],
  [0xdf, 0x7f, 0xff, 0xff, 0xff],
  [0xde, 0xff, 0xff],
  [0xdb, 0xff, 0xff, 0xff, 0xf0],
  [0xda, 0xff, 0xff],
  [0xc6, 0xff, 0xff, 0xff, 0xff],
  [0xc5, 0xff, 0xff],
  [0xc9, 0x7f, 0xff, 0xff, 0xff, 0x00],
];

/** A damaged copy of `message`: cut short, bytes changed, an extension header or a huge claim put in, a trailing byte. */
export function mutate(random: Random, message: Bytes): Bytes {
  const out = message.slice();
  const at = (): number => below(random, out.length + 1);
  const edits = 1 + below(random, 2);
  for (let e = 0; e < edits; e++) {
    switch (below(random, 7)) {
      case 0:
        out.length = at();
        break;
      case 1:
        if (out.length > 0) out[below(random, out.length)] = below(random, 256);
        break;
      case 2:
        if (out.length > 0) out[below(random, out.length)]! ^= 1 << below(random, 8);
        break;
      case 3:
        out.splice(at(), 0, ...pick(random, EXTENSION_HEADERS));
        break;
      case 4:
        out.splice(at(), random() < 0.5 ? 5 : 0, ...pick(random, HUGE_CLAIMS));
        break;
      case 5:
        out.push(below(random, 256));
        break;
      default:
        out.splice(at(), 0, ...new Array<number>(1 + below(random, 40)).fill(0x91));
    }
  }
  return out;
}
