import { fileURLToPath } from 'node:url';
import { RUNTIME_SCENARIO, launch, tlsRuntimeConformance } from '@skein/test-utils';

// Node runs the shared fixture on what is built (dist/), as it runs no TypeScript: `pnpm build` first.
const runtimeModule = fileURLToPath(new URL('../dist/index.js', import.meta.url));

// The TLS half of the Runtime contract, as Bun and Deno run it: the same scenarios, the same checks.
tlsRuntimeConformance({
  runtime: 'node',
  start: (args) => launch('node', RUNTIME_SCENARIO, [runtimeModule, ...args]),
  mtlsServer: true,
  identity: true,
  tls13Only: true,
  parsesCertificates: true,
});
