import { fileURLToPath } from 'node:url';
import { RUNTIME_SCENARIO, launch, tlsReloadKeepsConformance } from '@skein/test-utils';

const runtimeModule = fileURLToPath(new URL('../src/index.ts', import.meta.url));

tlsReloadKeepsConformance({ runtime: 'bun', start: (args) => launch('bun', RUNTIME_SCENARIO, [runtimeModule, ...args]) });
