import { fileURLToPath } from 'node:url';
import { RUNTIME_SCENARIO, launch, tlsClientVersionConformance } from '@skein/test-utils';

// Deno's TLS cannot be limited to TLS 1.3: its connect must refuse the option, not drop it.
const runtimeModule = fileURLToPath(new URL('../src/index.ts', import.meta.url));

tlsClientVersionConformance({
  runtime: 'deno',
  start: (args) => launch('deno', RUNTIME_SCENARIO, [runtimeModule, ...args]),
  mtlsServer: false,
  identity: false,
  tls13Only: false,
});
