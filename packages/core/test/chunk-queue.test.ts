import { describe, expect, it } from 'vitest';
import { ChunkQueue } from '../src/index.js';

describe('ChunkQueue', () => {
  it('joins runs of small chunks into one piece and keeps order', () => {
    const q = new ChunkQueue();
    for (let i = 0; i < 10; i++) q.push(new Uint8Array([i, i]));
    expect(q.bytes).toBe(20);
    const piece = q.take();
    expect([...piece]).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9]);
    expect(q.empty).toBe(true);
    expect(q.bytes).toBe(0);
  });

  it('sends a large chunk from the caller buffer, uncopied', () => {
    const q = new ChunkQueue();
    const big = new Uint8Array(64 * 1024);
    q.push(new Uint8Array([1]));
    q.push(big);
    expect([...q.take()]).toEqual([1]);
    expect(q.take()).toBe(big);
  });

  it('puts back what the socket did not take, ahead of the rest', () => {
    const q = new ChunkQueue();
    const big = new Uint8Array(40_000).fill(7);
    q.push(big);
    q.push(new Uint8Array(20_000).fill(8));
    const piece = q.take();
    q.putBack(piece.subarray(1000));
    expect(q.bytes).toBe(39_000 + 20_000);
    expect(q.take()[0]).toBe(7);
    expect(q.take()[0]).toBe(8);
  });

  it('joins chunks adjacent in memory as one view of it, without copying', () => {
    const q = new ChunkQueue();
    const slab = new Uint8Array(100_000).fill(3);
    q.push(slab.subarray(0, 100));
    q.push(slab.subarray(100, 40_100)); // a large one too: still no copy
    q.push(slab.subarray(40_100, 40_200));
    const piece = q.take();
    expect(piece.buffer).toBe(slab.buffer);
    expect([piece.byteOffset, piece.length]).toEqual([0, 40_200]);
    expect(q.empty).toBe(true);
  });
});
