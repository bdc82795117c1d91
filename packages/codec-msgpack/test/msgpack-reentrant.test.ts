import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@skein/core';
import { hex } from '@skein/test-utils';
import { msgpack } from '../src/index.js';

/**
 * A getter in a value may encode with the same codec while the library's encoder is busy with
 * that value (the value holds a Date, so it is the library's). The library would then encode
 * with a fresh copy of itself, made without what the codec changes in it.
 */

/** What `codec.encode(inner)` gives (bytes, or the error's code) from inside a getter of a value the library encodes. */
function encodedWithin(codec: ReturnType<typeof msgpack>, inner: unknown): string {
  let got = '';
  const outer = {
    when: new Date(0),
    get x() {
      try {
        got = hex(codec.encode(inner));
      } catch (e) {
        got = `error ${(e as { code?: number }).code}`;
      }
      return 1;
    },
  };
  codec.encode(outer);
  return got;
}

function encodedAlone(codec: ReturnType<typeof msgpack>, inner: unknown): string {
  try {
    return hex(codec.encode(inner));
  } catch (e) {
    return `error ${(e as { code?: number }).code}`;
  }
}

describe('msgpack encode from within an encode', () => {
  it('writes what it writes alone: safe integers as integers, Map and Set payloads within maxDepth', () => {
    const codec = msgpack({ maxDepth: 3 });
    for (const inner of [{ n: 2 ** 40, d: new Date(0) }, [[new Set([1])]], new Map([[1, { n: -(2 ** 40), d: new Date(1) }]]), 2n ** 64n]) {
      expect(encodedWithin(codec, inner)).toBe(encodedAlone(codec, inner));
    }
    expect(encodedAlone(codec, [[new Set([1])]])).toBe(`error ${ErrorCode.Encode}`);
    expect(encodedAlone(codec, 2n ** 64n)).toBe(`error ${ErrorCode.Encode}`);
  });
});
