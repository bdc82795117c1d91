import { fileURLToPath } from 'node:url';
import { RUNTIME_SCENARIO, launch, runtimeConformance } from '@skein/test-utils';

// The runtime under test, from its sources: the shared fixture loads it from this file.
const runtimeModule = fileURLToPath(new URL('../src/index.ts', import.meta.url));

runtimeConformance({
  runtime: 'deno',
  start: (args) => launch('deno', RUNTIME_SCENARIO, [runtimeModule, ...args]),
});
