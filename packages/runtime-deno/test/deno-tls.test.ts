import { fileURLToPath } from 'node:url';
import { RUNTIME_SCENARIO, launch, tlsRuntimeConformance } from '@skein/test-utils';

const runtimeModule = fileURLToPath(new URL('../src/index.ts', import.meta.url));

// Deno.listenTls cannot ask for client certificates, and Deno shows no peer certificate: the
// suite checks that asking for either is refused, and the rest works.
tlsRuntimeConformance({
  runtime: 'deno',
  start: (args) => launch('deno', RUNTIME_SCENARIO, [runtimeModule, ...args]),
  mtlsServer: false,
  noUnixTls: true,
  blindHandshake: 'Deno reports a TLS 1.2 server that closes the handshake without an alert as end of file, whether or not it answered in TLS first',
  identity: false,
  tls13Only: false,
  holdsStalledHandshake: 'Deno keeps the socket of a TLS connection closed before its handshake until the peer sends a byte or leaves (denoland/deno#14547); Skein holds such a connection open, and counted, until then',
});
