import { fileURLToPath } from 'node:url';
import { RUNTIME_SCENARIO, launch, tlsRuntimeConformance } from '@skein/test-utils';

const runtimeModule = fileURLToPath(new URL('../src/index.ts', import.meta.url));

tlsRuntimeConformance({
  runtime: 'bun',
  start: (args) => launch('bun', RUNTIME_SCENARIO, [runtimeModule, ...args]),
  mtlsServer: true,
  identity: true,
  tls13Only: true,
  parsesCertificates: true,
});
