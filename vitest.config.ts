import { defineConfig } from 'vitest/config';

// Tests import sibling packages through their "skein-source" export, so a change in one
// package is seen by another's tests without a rebuild.
const conditions = ['skein-source', 'node', 'import', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: ['default', './scripts/summary-reporter.ts'],
    typecheck: { enabled: true, include: ['packages/*/test/**/*.test-d.ts'] },
  },
});
