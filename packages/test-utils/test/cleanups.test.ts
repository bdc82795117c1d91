import { describe, expect, it } from 'vitest';
import { cleanups, closeAll, sleep } from '../src/index.js';

describe('cleanups', () => {
  const order: string[] = [];
  const cleanup = cleanups();

  it('takes closers during a test', () => {
    cleanup.push(() => order.push('first'));
    cleanup.push(async () => {
      await sleep(5);
      order.push('second, awaited');
    });
    cleanup.push(() => order.push('third'));
    expect(order).toEqual([]);
  });

  it('ran them after that test, last first, each awaited, and holds none after', () => {
    expect(order).toEqual(['third', 'second, awaited', 'first']);
    expect(cleanup).toHaveLength(0);
  });
});

describe('closeAll', () => {
  it('runs every closer when some throw, then throws the first error (the last registered)', async () => {
    const ran: number[] = [];
    const closers = [1, 2, 3, 4].map((n) => async () => {
      ran.push(n);
      if (n % 2 === 0) throw new Error(`close ${n} failed`);
    });
    await expect(closeAll(closers)).rejects.toThrow('close 4 failed');
    expect(ran).toEqual([4, 3, 2, 1]);
  });
});
