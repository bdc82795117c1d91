import { fileURLToPath } from 'node:url';
import { RUNTIME_SCENARIO, launch, tlsClientVersionConformance } from '@skein/test-utils';

// Node runs the shared fixture on what is built (dist/): `pnpm build` first.
const runtimeModule = fileURLToPath(new URL('../dist/index.js', import.meta.url));

tlsClientVersionConformance({
  runtime: 'node',
  start: (args) => launch('node', RUNTIME_SCENARIO, [runtimeModule, ...args]),
  mtlsServer: true,
  identity: true,
  tls13Only: true,
});
