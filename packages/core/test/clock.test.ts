import { describe, expect, it } from 'vitest';
import { ErrorCode, MAX_TIMER_MS, RpcError, systemClock } from '../src/index.js';

describe('systemClock', () => {
  // Past 2^31-1 ms Node, Bun and Deno fire a timer at once and repeat it every 1 ms; at 0 or
  // below (or NaN) it spins every 1 ms. The clock refuses both, whatever its caller checked.
  it.each([2 ** 31, 2 ** 32, Infinity, 0, -5, NaN, '100' as unknown as number])('refuses a period of %s ms with InvalidArgument, starting no timer', (ms) => {
    let ticks = 0;
    let err: unknown;
    try {
      systemClock.every(ms, () => ticks++).stop();
    } catch (e) {
      err = e;
    }
    expect(RpcError.is(err, ErrorCode.InvalidArgument)).toBe(true);
    expect((err as Error).message).toMatch(/period must be a number of ms above 0 and at most 2147483647/);
    expect(ticks).toBe(0);
  });

  it.each([0.5, 1, MAX_TIMER_MS])('takes a period of %s ms', (ms) => {
    const ticker = systemClock.every(ms, () => {});
    ticker.stop();
  });
});
