import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Test files that run long but whose source is short (seconds: a CI run's, two workers). Without
 * a cache of past durations (a clean clone: CI), vitest starts the largest sources first, so these
 * few-line files, which expand a matrix at collection, started last (the three conformance ones
 * 420th to 422nd of 425), and one worker ran on alone for about half a minute after the other had
 * finished. Their order here is longest first.
 */
const SLOW_FIRST: readonly string[] = [
  'packages/conformance/test/server-node.test.ts', // ~95 s
  'packages/conformance/test/server-bun.test.ts', // ~62 s
  'packages/conformance/test/server-deno.test.ts', // ~62 s
  'packages/faults/test/partition.test.ts', // ~22 s
  'packages/conformance/test/write-stall-runtimes.test.ts', // ~21 s
  'packages/runtime-node/test/tls-conformance.test.ts', // ~17 s
  'packages/faults/test/stream-partition.test.ts', // ~16 s
  'packages/cli/test/tls-timeout-budget.test.ts', // ~15 s
];

const rank = (spec: TestSpecification): number => {
  const path = spec.moduleId.replaceAll('\\', '/');
  const i = SLOW_FIRST.findIndex((f) => path.endsWith(`/${f}`));
  return i === -1 ? SLOW_FIRST.length : i;
};

/**
 * Vitest's order (failed first, then longest first by the cache, or largest first without one),
 * with the files above moved to the front, so that with two workers no long file starts last.
 */
export default class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    // Array.prototype.sort is stable: every other file keeps vitest's order.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
