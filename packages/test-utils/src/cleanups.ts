import { afterEach, type TestContext } from 'vitest';

/**
 * What a test leaves running (servers, streams, pools, processes), closed after each test of
 * the file, last registered first, each awaited before the next: a server closes after the
 * clients that call it. Call it once at the top of a test file, where its `afterEach` belongs:
 * `const cleanup = cleanups();` and then `cleanup.push(() => server.close())` in the tests.
 */
export function cleanups<F extends () => unknown = () => unknown>(): F[] {
  const closers: F[] = [];
  afterEach(() => closeAll(closers.splice(0)));
  return closers;
}

/**
 * As `cleanups()`, for one test that runs at once with others (`describe.concurrent`,
 * `it.concurrent`): closed when that test ends, by its own context's `onTestFinished`. The file's
 * `afterEach` runs after each test and would close what the others still use.
 * `const cleanup = testCleanups(t);` in `it('...', async (t) => ...)`.
 */
export function testCleanups<F extends () => unknown = () => unknown>({ onTestFinished }: Pick<TestContext, 'onTestFinished'>): F[] {
  const closers: F[] = [];
  onTestFinished(() => closeAll(closers.splice(0)));
  return closers;
}

/**
 * Runs `closers` last first, each awaited. Every one runs even when one before it throws (a
 * failed close must not leave the next test's port or process taken); the first error is then
 * thrown, failing the test they ran after.
 */
export async function closeAll(closers: readonly (() => unknown)[]): Promise<void> {
  let failed: { err: unknown } | undefined;
  for (let i = closers.length - 1; i >= 0; i--) {
    try {
      await closers[i]!();
    } catch (err) {
      failed ??= { err };
    }
  }
  if (failed) throw failed.err;
}
