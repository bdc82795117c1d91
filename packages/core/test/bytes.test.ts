import { describe, expect, it } from 'vitest';
import { SHORT_BYTES, builtinByteOps, putBytes, scriptedByteOps, takeBytes } from '../src/index.js';

const pattern = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

describe.each([
  ['builtin (V8)', builtinByteOps],
  ['scripted (JavaScriptCore)', scriptedByteOps],
])('byte ops, %s', (_name, ops) => {
  it('take a piece of any length as a plain Uint8Array with the same bytes', () => {
    const chunk = pattern(1000);
    // A received chunk is often a view itself: the piece is cut relative to it.
    const inner = new Uint8Array(chunk.buffer, 100, 800);
    for (const [from, to] of [[0, 0], [3, 4], [10, 10 + SHORT_BYTES], [10, 11 + SHORT_BYTES], [0, 800]] as const) {
      const piece = ops.take(inner, from, to);
      expect(piece.constructor).toBe(Uint8Array);
      expect(piece).toEqual(chunk.subarray(100 + from, 100 + to));
    }
  });

  it('take a long piece as a view: no copy of a big message', () => {
    const chunk = pattern(500);
    const piece = ops.take(chunk, 50, 51 + SHORT_BYTES);
    expect(piece.buffer).toBe(chunk.buffer);
    expect(piece.byteOffset).toBe(50);
  });

  it('put a part of any length at an offset, leaving the bytes around it alone', () => {
    for (const n of [0, 1, 31, SHORT_BYTES, SHORT_BYTES + 1, 300]) {
      const dst = new Uint8Array(n + 20).fill(0xee);
      const src = pattern(n, n);
      ops.put(dst, 10, src);
      expect(dst.subarray(10, 10 + n)).toEqual(src);
      expect([...dst.subarray(0, 10), ...dst.subarray(10 + n)].every((b) => b === 0xee)).toBe(true);
    }
  });

  it('put a part that is a view of the destination itself, as set() would', () => {
    const dst = pattern(100);
    const expected = dst.slice();
    expected.set(dst.slice(0, 10), 50);
    ops.put(dst, 50, dst.subarray(0, 10));
    expect(dst).toEqual(expected);
  });
});

describe('the engine’s byte ops', () => {
  it('copy a short piece on JavaScriptCore, so later writes to the chunk do not reach it', () => {
    const chunk = pattern(100);
    const piece = scriptedByteOps.take(chunk, 10, 20);
    chunk.fill(0);
    expect(piece).toEqual(pattern(100).subarray(10, 20));
  });

  it('are the builtin ones under Node (Bun runs the scripted ones: the conformance suite covers it)', () => {
    expect(takeBytes).toBe(builtinByteOps.take);
    expect(putBytes).toBe(builtinByteOps.put);
  });
});
