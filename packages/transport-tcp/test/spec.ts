import { FrameError, type FrameSpec } from '@skein/core';
import { seededRandom } from '@skein/test-utils';

/**
 * The test protocol: a 4-byte little-endian body length, then the body. Over `limit`, the
 * FrameError carries `lastWords`, if given.
 */
export function lengthPrefixed(limit: number, lastWords?: Uint8Array): FrameSpec {
  return {
    headerLength: 4,
    bodyLength(bytes, at) {
      const length = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, true);
      if (length > limit) throw new FrameError(`body of ${length} bytes is over the ${limit} byte limit`, lastWords);
      return length;
    },
  };
}

export const LIMIT = 16 << 20;
export const spec = lengthPrefixed(LIMIT);

export function header(length: number): Uint8Array {
  const h = new Uint8Array(4);
  new DataView(h.buffer).setUint32(0, length, true);
  return h;
}

/** Header and body in one buffer. */
export function encode(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  out.set(header(body.length));
  out.set(body, 4);
  return out;
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const str = (b: Uint8Array): string => new TextDecoder().decode(b);

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Seeded random bytes, so a failure replays the same input. */
export function noise(length: number, seed: number): Uint8Array {
  const random = seededRandom(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = random() * 256;
  return out;
}
