import { fileURLToPath } from 'node:url';
import { RUNTIME_SCENARIO, launch, tlsClientVersionConformance } from '@skein/test-utils';

const runtimeModule = fileURLToPath(new URL('../src/index.ts', import.meta.url));

tlsClientVersionConformance({
  runtime: 'bun',
  start: (args) => launch('bun', RUNTIME_SCENARIO, [runtimeModule, ...args]),
  mtlsServer: true,
  identity: true,
  tls13Only: true,
});
