import { AsyncLocalStorage } from 'node:async_hooks';
import { onTestFinished, type TestContext } from 'vitest';

const scope = new AsyncLocalStorage<Pick<TestContext, 'onTestFinished'>>();

/**
 * `body` as a test function run in its own test's scope: `whenTestFinished`, called from it or
 * from anything it awaits, registers with that test. For tests that run at once
 * (`describe.concurrent`) with helpers, however deep, that close what they start: vitest's global
 * `onTestFinished` names the test that started last, not the one whose code runs.
 */
export function scoped(body: (t: TestContext) => unknown): (t: TestContext) => Promise<void> {
  return async (t) => void (await scope.run(t, () => body(t)));
}

/** `onTestFinished` of the test whose scope this runs in (`scoped`), or vitest's global one outside any. */
export function whenTestFinished(fn: () => unknown): void {
  const done = async (): Promise<void> => void (await fn());
  const t = scope.getStore();
  if (t) t.onTestFinished(done);
  else onTestFinished(done);
}
