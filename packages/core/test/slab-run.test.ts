import { describe, expect, it } from 'vitest';
import { Slab, SlabRun } from '../src/index.js';

const bytes = (...b: number[]) => Uint8Array.from(b);

describe('SlabRun', () => {
  it('copies parts back to back and cuts them as one view', () => {
    const run = new SlabRun(new Slab(64));
    const chunks: Uint8Array[] = [];
    run.copy(bytes(1, 2), chunks);
    run.copy(bytes(3), chunks);
    run.cut(chunks);
    expect(chunks.map((c) => [...c])).toEqual([[1, 2, 3]]);
  });

  it('never writes over a cut view, and holds nothing once released', () => {
    const slab = new Slab(64);
    const run = new SlabRun(slab);
    const chunks: Uint8Array[] = [];
    run.copy(bytes(1, 1), chunks);
    run.cut(chunks);
    run.copy(bytes(2, 2), chunks);
    run.release();
    expect(run.held).toBe(0);
    // Another run takes what was given back: the first view keeps its bytes.
    const other = new SlabRun(slab);
    other.copy(bytes(9, 9, 9, 9), []);
    expect([...chunks[0]!]).toEqual([1, 1]);
  });

  it('moves to a fresh block when the slab is full, cutting what it leaves behind', () => {
    const run = new SlabRun(new Slab(8));
    const chunks: Uint8Array[] = [];
    run.copy(bytes(1, 2, 3, 4, 5, 6), chunks);
    run.copy(bytes(7, 8, 9, 10), chunks);
    run.cut(chunks);
    expect(chunks.flatMap((c) => [...c])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(new Set(chunks.map((c) => c.buffer)).size).toBe(2);
  });
});
