import { describe, expect, it } from 'vitest';
import { handleCounts, leakedHandles, sleep, waitFor } from '@skein/test-utils';
import { nodeRuntime } from '../src/index.js';

const { clock } = nodeRuntime;

describe('clock', () => {
  it('now() moves forward', async () => {
    const a = clock.now();
    await sleep(2);
    expect(clock.now()).toBeGreaterThan(a);
  });

  it('every() ticks until stopped', async () => {
    let ticks = 0;
    const ticker = clock.every(1, () => ticks++);
    await waitFor(() => ticks >= 3, { what: 'three ticks' });
    ticker.stop();
    const stoppedAt = ticks;
    await sleep(20);
    expect(ticks).toBe(stoppedAt);
  });

  it('a ticker holds no ref on the event loop, so alone it never keeps the process alive', () => {
    // Node lists exactly the timers that keep the process alive: the measure works...
    const before = handleCounts();
    const held = setInterval(() => {}, 1000);
    expect(leakedHandles(before)).toEqual({ Timeout: 1 });
    clearInterval(held);
    // ...and a ticker is not among them.
    const ticker = clock.every(1000, () => {});
    expect(leakedHandles(before)).toEqual({});
    ticker.stop();
  });

  it('a ticker holds the event loop once ref()ed, until unref() or stop()', () => {
    const before = handleCounts();
    const ticker = clock.every(1000, () => {});
    ticker.ref!();
    expect(leakedHandles(before)).toEqual({ Timeout: 1 });
    ticker.unref!();
    expect(leakedHandles(before)).toEqual({});
    ticker.ref!();
    ticker.stop();
    expect(leakedHandles(before)).toEqual({});
  });
});
