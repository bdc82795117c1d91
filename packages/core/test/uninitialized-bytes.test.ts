import { describe, expect, it } from 'vitest';
import { LONG_BYTES, uninitializedBytes } from '../src/index.js';

describe('uninitializedBytes', () => {
  it('is a plain Uint8Array of exactly n bytes in memory of its own, short or long', () => {
    for (const n of [0, 1, LONG_BYTES - 1, LONG_BYTES, 64 * 1024, 1024 * 1024]) {
      const bytes = uninitializedBytes(n);
      // Not a Node Buffer (whose slice shares memory), and not a view of a pool another allocation
      // shares: a frame made of it may be transferred to a worker, detaching all of its ArrayBuffer.
      expect(bytes.constructor).toBe(Uint8Array);
      expect(bytes.length).toBe(n);
      expect(bytes.byteOffset).toBe(0);
      expect(bytes.buffer.byteLength).toBe(n);
    }
  });

  it('gives two allocations two memories, each writable in full', () => {
    const a = uninitializedBytes(LONG_BYTES * 2).fill(0xaa);
    const b = uninitializedBytes(LONG_BYTES * 2).fill(0xbb);
    expect(a.buffer).not.toBe(b.buffer);
    expect(a.every((x) => x === 0xaa) && b.every((x) => x === 0xbb)).toBe(true);
  });

  it('leaves long memory unzeroed on Node (its point), short memory zeroed', () => {
    // allocUnsafeSlow is what makes long memory: a spy shows it is used from LONG_BYTES on only.
    const original = Buffer.allocUnsafeSlow;
    const asked: number[] = [];
    Buffer.allocUnsafeSlow = (n: number) => (asked.push(n), original(n));
    try {
      uninitializedBytes(LONG_BYTES - 1);
      uninitializedBytes(LONG_BYTES);
    } finally {
      Buffer.allocUnsafeSlow = original;
    }
    expect(asked).toEqual([LONG_BYTES]);
    expect(uninitializedBytes(LONG_BYTES - 1).every((x) => x === 0)).toBe(true);
  });
});
