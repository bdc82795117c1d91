import { fileURLToPath } from 'node:url';
import { afterEach, expect } from 'vitest';
import { ErrorCode, type FrameListener, type TlsOptions } from '@skein/core';
import { freePort, itNeeding, launch, reap, suiteCerts, testTls, type Proc } from '@skein/test-utils';
import { wsTransport } from '../src/index.js';
import { spec } from './helpers.js';

// Bun's own WebSocket says why it closed before opening in its error event (the HTTP status that
// answered the upgrade, a TLS failure, a refused connect), where a browser's says nothing. The
// client reads it: an upgrade refused with 401, or a TLS handshake refused for want of a client
// certificate, is Unauthenticated there as under Node and Deno (ws), so a pool fails its calls at
// once instead of waiting out its connect budget for an Unreachable server.
const fixture = fileURLToPath(new URL('./fixtures/ws-dial-refusals.mjs', import.meta.url));
const certs = suiteCerts();
const { mtls, clientTls } = testTls(certs);
let listener: FrameListener | undefined;
let client: Proc | undefined;
afterEach(async () => {
  await reap(client);
  await listener?.close();
});

/** A ws server (wss with `tls`) whose upgrade hook lets in only `?token=good`; its port. */
async function server(tls?: TlsOptions): Promise<number> {
  listener = await wsTransport({ upgrade: (req) => req.url.endsWith('token=good'), ...(tls && { tls }) }).listen({ host: '127.0.0.1', port: 0 }, spec, (conn) =>
    conn.bind({ frame() {}, drain() {}, close() {} }),
  );
  return (listener.address as { port: number }).port;
}

/** What Bun's client said of each address: `failed <code> <message>` or `connected`. */
async function dialFromBun(tls: object, addresses: string[]): Promise<string[]> {
  client = launch('bun', fixture, [JSON.stringify(tls), ...addresses]);
  await client.waitForLine(/^done$/);
  return addresses.map((a) => client!.lines.find((l) => l.startsWith(`${a} `))!.slice(a.length + 1));
}

itNeeding(['bun'], "Bun's WebSocket client tells a 401, a 404 and a refused connect apart, as ws does, and keeps the URL's query out", async () => {
  const port = await server();
  const closed = await freePort();
  const [refused, wrongPath, nobody] = await dialFromBun({}, [`ws://127.0.0.1:${port}/skein?token=s3cret`, `ws://127.0.0.1:${port}/other`, `ws://127.0.0.1:${closed}/skein`]);
  expect(refused).toMatch(new RegExp(`^failed ${ErrorCode.Unauthenticated} ws://127\\.0\\.0\\.1:${port}/skein\\?… refused the connection: HTTP 401$`));
  expect(wrongPath).toMatch(new RegExp(`^failed ${ErrorCode.Unreachable} .*answered HTTP 404 instead of upgrading \\(no Skein endpoint on that path\\?`));
  expect(nobody).toMatch(new RegExp(`^failed ${ErrorCode.Unreachable} .*closed before opening \\(1006\\): .+`));
  // Bun's own words name the URL whole; the error names it without its query.
  expect(refused).not.toContain('s3cret');
}, 30_000);

itNeeding(['bun'], "Bun's WebSocket client reads a TLS refusal as ws does: no client certificate for an mTLS server is Unauthenticated, an untrusted CA names the fix", async () => {
  const port = await server(mtls());
  const [noCert] = await dialFromBun(clientTls(), [`wss://127.0.0.1:${port}/skein?token=good`]);
  expect(noCert).toMatch(new RegExp(`^failed ${ErrorCode.Unauthenticated} .* refused the TLS connection: .*CERTIFICATE_REQUIRED`));
  const [untrusted] = await dialFromBun({ servername: 'localhost' }, [`wss://127.0.0.1:${port}/skein?token=good`]);
  expect(untrusted).toMatch(new RegExp(`^failed ${ErrorCode.Unreachable} .*failed: .*not signed by a CA this client trusts`));
}, 30_000);
