import { describe, expect, it } from 'vitest';
import { TickedTime } from '../src/server/ticked-time.js';

describe('TickedTime', () => {
  // Whole ms: the connections keep these stamps in fields that start as small integers, and a
  // fraction stored there a second into the server's life would change their shape and throw
  // away the optimised code of the whole per-call path (ticked-time.ts).
  it("tells whole ms, carrying the clock's fraction to the next tick", () => {
    const t = new TickedTime(1000);
    const told = [10, 10.5, 11.25, 11.75, 12.5, 13.25].map((now) => t.tick(now));
    // Counted: 0 (the first tick), 0.5, 1.25, 1.75, 2.5, 3.25.
    expect(told).toEqual([0, 0, 1, 1, 2, 3]);
    expect(t.now).toBe(3);
    expect(told.every(Number.isInteger)).toBe(true);
  });

  it('adds one period at most per tick, and nothing for a clock that went back', () => {
    const t = new TickedTime(1000);
    t.tick(100.5);
    expect(t.tick(5000.75)).toBe(1000); // a stall of ~4.9 s counts as one period
    expect(t.tick(4000)).toBe(1000); // the clock went back: nothing counted
    expect(t.tick(4500.5)).toBe(1500);
    expect(t.now).toBe(1500);
  });
});
