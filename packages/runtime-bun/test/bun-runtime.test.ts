import { fileURLToPath } from 'node:url';
import { repoTool, runtimeConformance, startProcess } from '@skein/test-utils';

const fixture = fileURLToPath(new URL('./fixtures/scenario.ts', import.meta.url));

// Bun resolves @skein/* through the workspace symlinks in node_modules; `--conditions
// skein-source` picks each package's src/index.ts, so no build is needed first.
runtimeConformance({
  runtime: 'bun',
  start: (args) => startProcess(repoTool('bun'), ['--conditions', 'skein-source', fixture, ...args], { NO_COLOR: '1' }),
});
