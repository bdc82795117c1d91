import { fileURLToPath } from 'node:url';
import { RUNTIME_SCENARIO, repoTool, runtimeConformance, startProcess } from '@skein/test-utils';

// The runtime under test, from its sources: the shared fixture loads it from this file.
const runtimeModule = fileURLToPath(new URL('../src/index.ts', import.meta.url));

// With a package.json beside the script and no deno.json, Deno resolves bare specifiers through
// node_modules (the workspace symlinks). `--conditions skein-source` picks each package's
// src/index.ts; `--sloppy-imports` lets those sources import './x.js' for './x.ts', as tsc wants.
const DENO_FLAGS = ['--allow-net', '--allow-read', '--allow-write', '--allow-env', '--conditions', 'skein-source', '--sloppy-imports'];

runtimeConformance({
  runtime: 'deno',
  start: (args) =>
    startProcess(repoTool('deno'), ['run', ...DENO_FLAGS, RUNTIME_SCENARIO, runtimeModule, ...args], { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' }),
});
