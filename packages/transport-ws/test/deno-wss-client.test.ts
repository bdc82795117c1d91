import { fileURLToPath } from 'node:url';
import { afterEach, expect } from 'vitest';
import { ErrorCode, type FrameConn, type FrameListener, type PeerIdentity } from '@skein/core';
import { itNeeding, launch, reap, suiteCerts, testTls, type Proc } from '@skein/test-utils';
import { wsTransport } from '../src/index.js';
import { spec } from './helpers.js';

// Deno's own WebSocket takes no TLS options (a CA came only from DENO_CERT or --cert, a client
// certificate not at all: InvalidArgument); its default client is ws over node:tls, which takes them.
const certs = suiteCerts();
const { mtls, clientTls } = testTls(certs);
const fixture = fileURLToPath(new URL('./fixtures/wss-client.mjs', import.meta.url));
let client: Proc | undefined;
let listener: FrameListener | undefined;
afterEach(async () => {
  await reap(client);
  await listener?.close();
});

/** An mTLS echo server (ws over https): the identity of the connection its first frame came on. */
async function mtlsEcho(): Promise<{ port: number; identity: Promise<PeerIdentity | undefined> }> {
  let seen: (identity: PeerIdentity | undefined) => void;
  const identity = new Promise<PeerIdentity | undefined>((resolve) => (seen = resolve));
  listener = await wsTransport({ tls: mtls() }).listen({ host: '127.0.0.1', port: 0 }, spec, (conn: FrameConn) =>
    conn.bind({
      frame: (bytes, start, end) => (seen(conn.identity), conn.write(bytes.subarray(start, end))),
      drain() {},
      close() {},
    }),
  );
  return { port: (listener.address as { port: number }).port, identity };
}

itNeeding(['deno'], 'a Deno client dials wss:// with tls.ca and presents tls.cert (mTLS): the server sees its identity', async () => {
  const server = await mtlsEcho();
  client = launch('deno', fixture, [String(server.port), JSON.stringify(clientTls(certs.client))]);
  expect((await client.waitForLine(/^(echoed|failed .*)$/))[0]).toBe('echoed');
  expect(await server.identity).toMatchObject({ subject: 'CN=test-client' });
}, 30_000);

itNeeding(['deno'], 'a Deno client without a certificate is refused by an mTLS server as Unauthenticated', async () => {
  const server = await mtlsEcho();
  client = launch('deno', fixture, [String(server.port), JSON.stringify(clientTls())]);
  const [line] = await client.waitForLine(/^(echoed|failed .*)$/);
  // Typed from the server's alert (core's tlsCloseError), as the ws client under Node does.
  expect(line).toMatch(new RegExp(`^failed ${ErrorCode.Unauthenticated} .*refused the TLS connection`));
}, 30_000);

itNeeding(['deno'], 'a Deno client run without --allow-env fails to connect with InvalidArgument naming the flag ws needs', async () => {
  // ws reads two environment variables as it loads; Deno's own refusal has no code.
  client = launch('deno', fixture, ['1', '{}'], { denoPermissions: ['--allow-net', '--allow-read'] });
  const [line] = await client.waitForLine(/^(echoed|failed .*)$/);
  expect(line).toMatch(new RegExp(`^failed ${ErrorCode.InvalidArgument} .*--allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE`));
}, 30_000);
