import { describe, expect, it } from 'vitest';
import { FrameWriter, type BatchLimits } from '../src/frame-writer.js';
import { Slab } from '@skein/core';
import { concat, noise, str, text } from './spec.js';

/** A writer whose batches are kept, each with a copy of its bytes as they were when sent. */
function writer(slab = new Slab(64), threshold = 16, limits: BatchLimits = { writes: Infinity, bytes: Infinity }) {
  const batches: Uint8Array[][] = [];
  const sent: { chunk: Uint8Array; bytes: Uint8Array }[] = [];
  const w = new FrameWriter(slab, threshold, limits, {
    sendBatch(chunks) {
      batches.push(chunks);
      for (const chunk of chunks) sent.push({ chunk, bytes: chunk.slice() });
    },
  });
  return { w, batches, sent };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('FrameWriter', () => {
  it('sends the parts of one synchronous run as one batch at the end of the turn', async () => {
    const { w, batches } = writer();
    w.write(text('ab'));
    w.write(text('cd'));
    expect(batches).toHaveLength(0);
    await Promise.resolve();
    expect(batches.map((b) => b.map((c) => new TextDecoder().decode(c)))).toEqual([['abcd']]);
  });

  it('sends a batch as soon as it holds `writes` parts, and the rest at the end of the turn', async () => {
    const { w, batches } = writer(new Slab(64), 16, { writes: 2, bytes: Infinity });
    for (const t of ['a', 'b', 'c', 'd', 'e']) w.write(text(t));
    expect(batches.map((b) => b.map(str))).toEqual([['ab'], ['cd']]);
    await Promise.resolve();
    expect(batches.map((b) => b.map(str))).toEqual([['ab'], ['cd'], ['e']]);
  });

  it('sends a batch as soon as it holds `bytes` bytes, counting parts sent by reference', async () => {
    const { w, batches } = writer(new Slab(64), 16, { writes: Infinity, bytes: 20 });
    const big = noise(16, 1);
    w.write(text('head'));
    expect(batches).toHaveLength(0);
    w.write(big);
    expect(batches).toHaveLength(1);
    expect(batches[0]![1]).toBe(big);
    w.write(text('tail'));
    await Promise.resolve();
    expect(batches.map((b) => b.length)).toEqual([2, 1]);
  });

  it('flush() sends at once, and the end of the turn then has nothing left to send', async () => {
    const { w, batches } = writer();
    w.write(text('now'));
    w.flush();
    expect(batches).toHaveLength(1);
    await turn();
    expect(batches).toHaveLength(1);
  });

  it('passes parts at or over the threshold by reference, between the copied runs', async () => {
    const { w, batches } = writer(new Slab(64), 16);
    const big = noise(16, 3);
    w.write(text('head'));
    w.write(big);
    w.write(text('tail'));
    await turn();
    const [batch] = batches;
    expect(batch).toHaveLength(3);
    expect(batch![1]).toBe(big);
    expect(concat(batch!)).toEqual(concat([text('head'), big, text('tail')]));
  });

  it('never writes over bytes already sent, across turns and fresh slab blocks', async () => {
    const { w, sent } = writer(new Slab(64), 16);
    const expected: Uint8Array[] = [];
    for (let t = 0; t < 40; t++) {
      for (let i = 0; i < 5; i++) {
        const part = noise(1 + ((t * 7 + i * 3) % 15), t * 5 + i + 1);
        expected.push(part);
        w.write(part);
      }
      await turn();
    }
    for (const { chunk, bytes } of sent) expect(chunk).toEqual(bytes);
    expect(concat(sent.map((s) => s.chunk))).toEqual(concat(expected));
  });

  it('keeps each connection\'s bytes its own when connections share the slab in one turn', async () => {
    const slab = new Slab(64);
    const a = writer(slab);
    const b = writer(slab);
    for (let i = 0; i < 30; i++) {
      a.w.write(text(`a${i};`));
      b.w.write(text(`b${i};`));
    }
    await turn();
    const decode = (x: { sent: { chunk: Uint8Array }[] }): string => new TextDecoder().decode(concat(x.sent.map((s) => s.chunk)));
    expect(decode(a)).toBe(Array.from({ length: 30 }, (_, i) => `a${i};`).join(''));
    expect(decode(b)).toBe(Array.from({ length: 30 }, (_, i) => `b${i};`).join(''));
  });

  it('gives each busy connection one contiguous run per turn, however their writes interleave', async () => {
    const slab = new Slab(64 * 1024);
    const writers = [writer(slab, 1024), writer(slab, 1024), writer(slab, 1024)];
    for (let i = 0; i < 256; i++) writers[i % 3]!.w.write(noise(40, i + 1));
    await turn();
    // One chunk each: one socket write of one buffer, not a writev of 85 slivers.
    for (const { batches } of writers) expect(batches.map((b) => b.length)).toEqual([1]);
  });

  it('packs a turn of small parts into as few chunks as the slab blocks they fill', async () => {
    const { w, batches } = writer(new Slab(64), 16);
    for (let i = 0; i < 32; i++) w.write(noise(8, i + 1));
    await turn();
    // 256 bytes in 64-byte blocks: a part that straddles a block boundary is split, not wasted.
    expect(batches[0]!.map((c) => c.length)).toEqual([64, 64, 64, 64]);
  });

  it('defer(): parts written one await apart leave as one batch, at the end of the macrotask', async () => {
    const { w, batches } = writer();
    for (const t of ['a', 'b', 'c', 'd']) {
      w.write(text(t));
      w.defer();
      await Promise.resolve();
    }
    expect(batches).toHaveLength(0);
    await turn();
    expect(batches.map((b) => b.map(str))).toEqual([['abcd']]);
  });

  it('defer(): a deferred batch still goes out at its limits', async () => {
    const { w, batches } = writer(new Slab(64), 16, { writes: 2, bytes: Infinity });
    for (const t of ['a', 'b', 'c', 'd', 'e']) {
      w.write(text(t));
      w.defer();
      await Promise.resolve();
    }
    expect(batches.map((b) => b.map(str))).toEqual([['ab'], ['cd']]);
    await turn();
    expect(batches.map((b) => b.map(str))).toEqual([['ab'], ['cd'], ['e']]);
  });

  it('defer() with nothing queued holds back no later run', async () => {
    const { w, batches } = writer();
    w.write(text('a'));
    await Promise.resolve();
    expect(batches.map((b) => b.map(str))).toEqual([['a']]);
    w.defer();
    w.write(text('b'));
    await Promise.resolve();
    expect(batches.map((b) => b.map(str))).toEqual([['a'], ['b']]);
  });

  it('discard() drops what is queued', async () => {
    const { w, batches } = writer();
    w.write(text('gone'));
    w.discard();
    await turn();
    expect(batches).toHaveLength(0);
  });
});
