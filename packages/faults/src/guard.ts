import { waitFor } from '@skein/test-utils';

/**
 * Waits until `cond` holds (true) or `ms` pass (false). A guard against a hang, never a measure:
 * what a scenario checks is what it counts once this returns.
 */
export const holdsWithin = (cond: () => boolean, ms: number): Promise<boolean> =>
  waitFor(cond, { timeoutMs: ms }).then(
    () => true,
    () => false,
  );
