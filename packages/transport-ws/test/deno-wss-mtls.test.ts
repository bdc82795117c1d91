import { fileURLToPath } from 'node:url';
import { afterEach, expect } from 'vitest';
import { itNeeding, launch, reap, suiteCerts, testTls, type Proc } from '@skein/test-utils';

// Deno's node:tls server does not verify a client certificate against `ca` (Deno 2.9: a good one
// fails with UNABLE_TO_VERIFY_LEAF_SIGNATURE), so a Deno wss:// listener with requestCert let the
// listen succeed and then refused every client, the verified ones too. It must say so at listen,
// as Deno's TCP listener does for requestCert: InvalidArgument, nothing bound.
const certs = suiteCerts();
const { serverTls, mtls } = testTls(certs);
const fixture = fileURLToPath(new URL('./fixtures/wss-listen-outcome.mjs', import.meta.url));
let server: Proc | undefined;
afterEach(() => reap(server));

async function outcome(tls: object): Promise<string> {
  server = launch('deno', fixture, [JSON.stringify(tls)]);
  const [line] = await server.waitForLine(/^(listening \d+|failed .*)$/);
  await reap(server);
  return line;
}

itNeeding(['deno'], 'a Deno wss:// listen with requestCert fails with InvalidArgument naming tls.requestCert, and one without it listens', async () => {
  expect(await outcome(mtls())).toMatch(/^failed InvalidArgument: tls\.requestCert: .*Deno/);
  expect(await outcome(serverTls({ ca: certs.ca }))).toMatch(/^listening \d+$/);
}, 60_000);
