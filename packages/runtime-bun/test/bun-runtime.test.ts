import { fileURLToPath } from 'node:url';
import { RUNTIME_SCENARIO, repoTool, runtimeConformance, startProcess } from '@skein/test-utils';

// The runtime under test, from its sources: the shared fixture loads it from this file.
const runtimeModule = fileURLToPath(new URL('../src/index.ts', import.meta.url));

// Bun resolves @skein/* through the workspace symlinks in node_modules; `--conditions
// skein-source` picks each package's src/index.ts, so no build is needed first.
runtimeConformance({
  runtime: 'bun',
  start: (args) => startProcess(repoTool('bun'), ['--conditions', 'skein-source', RUNTIME_SCENARIO, runtimeModule, ...args], { NO_COLOR: '1' }),
});
