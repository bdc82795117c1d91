import { fileURLToPath } from 'node:url';
import { RUNTIME_SCENARIO, launch, runtimeConformance } from '@skein/test-utils';

// Node runs the shared fixture on what is built (dist/), as it runs no TypeScript: `pnpm build` first.
const runtimeModule = fileURLToPath(new URL('../dist/index.js', import.meta.url));

// The Runtime contract as Bun and Deno run it: the same scenarios, the same checks.
runtimeConformance({
  runtime: 'node',
  start: (args) => launch('node', RUNTIME_SCENARIO, [runtimeModule, ...args]),
});
