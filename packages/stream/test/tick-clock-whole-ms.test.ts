import { describe, expect, it } from 'vitest';
import { ManualClock } from '@skein/test-utils';
import { TickClock } from '../src/internals/tick-clock.js';
import { callTimeout } from '../src/internals/checks.js';

describe('TickClock in whole ms', () => {
  // Its ticked time goes into per-call fields (a Call's deadline and acceptedAt) that start as
  // small integers: a fraction stored there would change every call's shape and throw away the
  // optimised code of the client's per-call path (tick-clock.ts, `quicken`).
  it('counts the time a finer period takes over in whole ms, never ahead of the clock', () => {
    const clock = new ManualClock();
    const pace = new TickClock(clock, 1000, 20_000, () => {});
    clock.advance(1000);
    expect(pace.elapsed).toBe(1000);
    // A call with a shorter timeout than the usual one quickens the ticker between ticks: the
    // 300.6 ms since the last tick are counted then.
    clock.stall(300.6);
    const deadline = pace.deadline(5000);
    expect(pace.period).toBeLessThan(1000);
    expect(pace.elapsed).toBe(1300);
    expect(Number.isInteger(deadline)).toBe(true);
    expect(deadline).toBe(1300 + pace.period + 5000);
    // Ticks after it go on in whole periods.
    clock.advance(pace.period);
    expect(Number.isInteger(pace.elapsed)).toBe(true);
    expect(pace.elapsed).toBeLessThanOrEqual(clock.time);
    pace.stop();
  });

  it("takes a call's timeout in whole ms, rounded up: a handler's remaining time passed on has a fraction", () => {
    expect(callTimeout(1234.2, 20_000)).toBe(1235);
    expect(callTimeout(0.3, 20_000)).toBe(1);
    expect(callTimeout(500, 20_000)).toBe(500);
    expect(callTimeout(undefined, 20_000)).toBe(20_000);
    const pace = new TickClock(new ManualClock(), 1000, 20_000, () => {});
    expect(Number.isInteger(pace.deadline(callTimeout(4999.9, 20_000)))).toBe(true);
    pace.stop();
  });
});
