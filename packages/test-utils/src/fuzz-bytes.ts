// @skein/conformance has its own copy of seededRandom, randomBuffers and mutatedBuffers (its
// fuzz-bytes.ts), for the published codec suite: a change here belongs there too.

/**
 * A small seeded generator (mulberry32), so that a fuzz failure replays the same inputs on
 * every run and every machine.
 */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` buffers of random bytes, 0 to `maxLength` long. */
export function randomBuffers(random: () => number, count: number, maxLength = 48): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const bytes = new Uint8Array(Math.floor(random() * (maxLength + 1)));
    for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
    out.push(bytes);
  }
  return out;
}

/**
 * `count` copies of valid encodings with one to three bytes overwritten, and sometimes cut
 * short: random bytes rarely get past a decoder's first byte, these reach its inner paths.
 */
export function mutatedBuffers(random: () => number, valid: readonly Uint8Array[], count: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const source = valid[i % valid.length]!;
    const bytes = source.slice(0, random() < 0.2 ? Math.floor(random() * source.length) : source.length);
    const edits = 1 + Math.floor(random() * 3);
    for (let e = 0; e < edits && bytes.length > 0; e++) {
      bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    }
    out.push(bytes);
  }
  return out;
}

/**
 * Flips `flips` random bits of `bytes[from, to)` in place: a damaged copy of a valid encoding
 * whose length stays the same, so only the fields the bits land in change.
 */
export function flipBits(random: () => number, bytes: Uint8Array, from = 0, to = bytes.length, flips = 1): Uint8Array {
  if (to <= from) return bytes;
  for (let i = 0; i < flips; i++) {
    const at = from + Math.floor(random() * (to - from));
    bytes[at]! ^= 1 << Math.floor(random() * 8);
  }
  return bytes;
}
