import { describe, expect, it } from 'vitest';
import { ReadRegions } from '../src/read-regions.js';

/** A read of `n` bytes into the buffer `next()` gave, filled with `fill`: what the receiver gets. */
function read(regions: ReadRegions, n: number, fill: number): { asked: Uint8Array; got: Uint8Array } {
  const asked = regions.next();
  asked.fill(fill, 0, n);
  return { asked, got: regions.take(n) };
}

describe('ReadRegions', () => {
  it('a quiet connection waits in a 4 KiB region, not 64 KiB: idle memory per connection', () => {
    const regions = new ReadRegions();
    expect(regions.next().buffer.byteLength).toBe(4096);
    read(regions, 1, 1);
    expect(regions.next().buffer.byteLength).toBe(4096);
  });

  it('reads into a 64 KiB region during a burst and after one of 1 KiB or more; after a short one, 4 KiB', () => {
    const regions = new ReadRegions();
    // A 5000-byte message at a quiet connection: 4096 fill the small region, 904 come next.
    expect(read(regions, 4096, 1).asked.length).toBe(4096);
    expect(regions.next().buffer.byteLength).toBe(64 * 1024);
    read(regions, 904, 2);
    // The burst was 5000 bytes: the next message is read in one go.
    expect(regions.next().buffer.byteLength).toBe(64 * 1024);
    read(regions, 5000, 3);
    expect(regions.next().buffer.byteLength).toBe(64 * 1024);
    read(regions, 10, 4);
    expect(regions.next().buffer.byteLength).toBe(4096);
    read(regions, 2000, 5);
    expect(regions.next().buffer.byteLength).toBe(64 * 1024);
  });

  it('never reads into bytes already handed on: every chunk keeps what it received', () => {
    const regions = new ReadRegions();
    const kept: { got: Uint8Array; fill: number }[] = [];
    // Quiet and busy reads of every size, through several regions of both sizes.
    const sizes = [1, 700, 1023, 3000, 4096, 20_000, 30_000, 16_000, 5, 64 * 1024, 100, 900];
    for (let i = 0; i < 200; i++) {
      const asked = regions.next();
      const n = Math.min(asked.length, sizes[i % sizes.length]!);
      const fill = i % 251;
      kept.push({ got: read(regions, n, fill).got, fill });
      expect(asked.length).toBeGreaterThanOrEqual(1024);
    }
    for (const { got, fill } of kept) expect(got.every((b) => b === fill)).toBe(true);
  });
});
