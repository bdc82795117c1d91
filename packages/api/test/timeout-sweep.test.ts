import { ManualClock } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { CallContext } from '../src/context.js';
import { TimeoutSweep } from '../src/timeout-sweep.js';

const ctx = (): CallContext => ({ sweepTick: 0 }) as CallContext;

function sweep(timeoutMs: number) {
  const clock = new ManualClock();
  const timedOut: { ctx: CallContext; at: number }[] = [];
  const s = new TimeoutSweep(timeoutMs, (c) => timedOut.push({ ctx: c, at: clock.time }), clock);
  return { clock, timedOut, s };
}

describe('TimeoutSweep', () => {
  it('times a call out after at least its whole timeout and at most two ticks late, wherever it starts in a tick', () => {
    for (const [timeoutMs, tick] of [
      [2500, 1000],
      [3000, 1000],
      [100, 100],
      [250, 250],
    ] as const) {
      for (const offset of [0, 1, tick / 2, tick - 1]) {
        const { clock, timedOut, s } = sweep(timeoutMs);
        const warmup = ctx();
        s.add(warmup); // keeps the ticker running, so the call starts mid-tick
        clock.advance(offset);
        const c = ctx();
        const start = clock.time;
        s.add(c);
        clock.advance(timeoutMs + 3 * tick);
        const mine = timedOut.find((x) => x.ctx === c);
        expect(mine, `timeout ${timeoutMs}, offset ${offset}`).toBeDefined();
        const ran = mine!.at - start;
        expect(ran, `timeout ${timeoutMs}, offset ${offset}`).toBeGreaterThanOrEqual(timeoutMs);
        expect(ran, `timeout ${timeoutMs}, offset ${offset}`).toBeLessThanOrEqual(timeoutMs + 2 * tick);
      }
    }
  });

  it('does not time out a call that ends in time', () => {
    const { clock, timedOut, s } = sweep(2000);
    const c = ctx();
    s.add(c);
    clock.advance(1999);
    s.delete(c);
    clock.advance(10_000);
    expect(timedOut).toEqual([]);
  });

  it('keeps one ticker through calls one at a time, and stops it on a tick that finds no call', () => {
    const { clock, s } = sweep(5000);
    for (let i = 0; i < 100; i++) {
      const c = ctx();
      s.add(c);
      clock.advance(3);
      s.delete(c);
    }
    expect(clock.made).toBe(1);
    expect(clock.running).toBe(1);
    clock.advance(1000); // a tick with nothing running
    expect(clock.running).toBe(0);
    s.add(ctx()); // the next call starts it again
    expect(clock.made).toBe(2);
    expect(clock.running).toBe(1);
  });

  it('times out exactly the calls still running, whichever of them ended, and an end told twice changes nothing', () => {
    const { clock, timedOut, s } = sweep(1000);
    const calls = Array.from({ length: 10 }, ctx);
    for (const c of calls) s.add(c);
    // The first added, one in the middle, the last added: each a different place in the list.
    for (const i of [0, 4, 9]) s.delete(calls[i]!);
    s.delete(calls[4]!);
    clock.advance(5000);
    const expected = calls.filter((_, i) => ![0, 4, 9].includes(i));
    expect(timedOut.map((t) => t.ctx)).toHaveLength(expected.length);
    expect(new Set(timedOut.map((t) => t.ctx))).toEqual(new Set(expected));
    // Ended after its timeout (the handler answered late): nothing is timed out again.
    for (const c of expected) s.delete(c);
    const later = ctx();
    s.add(later);
    clock.advance(5000);
    expect(timedOut.map((t) => t.ctx).filter((c) => c === later)).toHaveLength(1);
    expect(timedOut).toHaveLength(expected.length + 1);
  });
});
