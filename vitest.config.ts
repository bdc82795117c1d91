import { defineConfig } from 'vitest/config';
import SlowFirstSequencer from './scripts/slow-first-sequencer.js';

// Tests import sibling packages through their "skein-source" export, so a change in one
// package is seen by another's tests without a rebuild.
const conditions = ['skein-source', 'node', 'import', 'default'];

export default defineConfig({
  resolve: { conditions },
  // Vitest passes ssr.resolve.conditions to the test processes as Node's --conditions, so it must
  // not force 'import': Vite and Node add 'import' or 'require' per import themselves, and a
  // forced 'import' made `require()` of a dual package load its ESM build (protobufjs then found
  // no `long`, and etcd3's int64 lease ids lost precision).
  ssr: { resolve: { conditions: ['skein-source', 'node'], externalConditions: conditions } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Test files share their worker's modules (each worker imports Skein's sources and their
    // dependencies once, not once per file): imports were over a third of the suite's CPU (558 s
    // of "import" in a 1,060 s CI run on 2 cores, 2026-12-07; 1,048 s against 86 s measured side by
    // side, the whole suite passing either way). Files still run one at a time in a worker, each
    // with its own hooks; what they share is module state that a process shares in production too
    // (caches, one turn callback), and no test mocks a module, and every spy is restored after its test.
    isolate: false,
    // Three test files at a time, whatever the machine (vitest's default is one fewer than the
    // cores: a single file at a time on CI's 2 cores). Most files wait on real things (etcd
    // leases, child runtimes, keepalive and close timers) more than they compute: two at once
    // took the whole run from 923 s to 527 s on 2 cores, three 442 s, all passing; with the suite
    // grown, two took 1,119 s of vitest (2026-12-06), past CI's 20 minutes with its set-up. No
    // test decides by timing; hang guards are generous.
    maxWorkers: 3,
    // Long files whose source is short start first (a clean clone has no cache of durations, and
    // vitest then starts the largest sources first): no worker runs on alone at the end.
    sequence: { sequencer: SlowFirstSequencer },
    reporters: ['default', './scripts/summary-reporter.ts'],
    // Type tests (*.test-d.ts) are compiled by each package's `typecheck` (tsc), which
    // `pnpm test` runs first; vitest's own typecheck would read the root tsconfig and miss them.
  },
});
