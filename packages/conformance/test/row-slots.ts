import { afterAll, beforeAll } from 'vitest';

/**
 * At most `n` of the describe blocks that call `take()` run at once: each waits in its first
 * beforeAll for a slot and gives it back in its last afterAll. The matrix's rows are concurrent
 * suites (vitest would run up to its maxConcurrency, 5, side by side); two at a time keep a
 * row's load, on this repository's 2 cores, that of the two test files vitest runs at once.
 */
export function rowSlots(n: number): { take(waitMs: number): void } {
  let free = n;
  const waiting: (() => void)[] = [];
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else free++;
  };
  return {
    take(waitMs) {
      let held = false;
      beforeAll(async () => {
        if (free > 0) free--;
        else await new Promise<void>((resolve) => waiting.push(resolve));
        held = true;
      }, waitMs);
      // Registered before the row's own afterAll hooks, so run after them (vitest runs them as a stack).
      afterAll(() => {
        if (held) release();
      });
    },
  };
}
