import { afterEach, expect } from 'vitest';
import { itNeeding, launch, reap, suiteCerts, within, type Proc } from '@skein/test-utils';
import { fileURLToPath } from 'node:url';
import { wsTransport } from '../src/index.js';
import { frame, record, spec, text } from './helpers.js';

// Under Bun the https server runs its own TLS and accepts by itself (ws-server.ts): its check of
// the client certificate is Bun's node:https, not Node's. What handlers see must still be only a
// verified certificate's identity, and a client with none, or a bad one, must get nowhere.
const certs = suiteCerts();
const fixture = fileURLToPath(new URL('./fixtures/mtls-wss-server.mjs', import.meta.url));
const unloadable = fileURLToPath(new URL('./fixtures/wss-unloadable.mjs', import.meta.url));
let server: Proc | undefined;
afterEach(() => reap(server));

async function echoOrFailure(port: number, pair: { cert: string; key: string } | undefined): Promise<string> {
  const client = wsTransport({ tls: { ca: certs.ca, ...pair } });
  const conn = await client.connect({ host: '127.0.0.1', port, tls: true }, spec, { timeoutMs: 10_000 }).catch((err: Error) => err);
  if (conn instanceof Error) return 'refused';
  const echoed = new Promise<string>((resolve) => {
    const r = record(conn, { frame: (body) => resolve(text(body)) });
    void r.closed.promise.then(() => resolve('refused'));
  });
  conn.write(frame('hello'));
  conn.flush();
  const got = await within(echoed, 10_000, 'the echo or the close');
  conn.close();
  return got;
}

itNeeding(['bun'], 'a Bun wss:// mTLS server lets in only a verified client certificate; it shows no identity, and does not promise one', async () => {
  server = launch('bun', fixture, [certs.dir]);
  const port = Number((await server.waitForLine(/^listening (\d+)/))[1]);
  for (const bad of [undefined, certs.expired, certs.foreign, certs.server]) expect(await echoOrFailure(port, bad)).toBe('refused');
  expect(server.lines.filter((l) => l.startsWith('identity'))).toEqual([]);
  expect(await echoOrFailure(port, certs.client)).toBe('hello');
  // Bun's https server (Bun 1.4) has no getPeerCertificate: no identity, as on Deno (docs/tls.md).
  // So a connection is not let in on probation waiting for one (RpcServer, peers.admit).
  expect((await server.waitForLine(/^identity (.*)$/))[1]).toBe('null');
  expect(server.lines.filter((l) => l.startsWith('pending'))).toEqual(['pending false']);
}, 60_000);

itNeeding(['bun'], "a Bun wss:// server's reloadTls says it cannot change the certificate, typed, and keeps serving", async () => {
  server = launch('bun', fixture, [certs.dir]);
  const [, outcome] = await server.waitForLine(/^reload (.*)$/);
  expect(outcome).toMatch(/^InvalidArgument: reloadTls: .*cannot change its certificate/);
  const port = Number((await server.waitForLine(/^listening (\d+)/))[1]);
  expect(await echoOrFailure(port, certs.client)).toBe('hello');
}, 60_000);

// As on Node and on every transport: what the TLS library will not load is InvalidArgument at
// listen (Bun's https server loads it only as it listens, where it said IO: "Failed to create HTTP server").
itNeeding(['bun'], 'a Bun wss:// listen with a certificate, key or CA that does not load fails with InvalidArgument, saying why', async () => {
  server = launch('bun', unloadable, [certs.dir]);
  await server.waitForLine(/^done$/);
  const outcome = (name: string): string | undefined => server!.lines.find((l) => l.startsWith(`${name} `))?.slice(name.length + 1);
  for (const name of ['wrong-key', 'not-pem', 'bad-ca']) {
    expect(outcome(name)).toMatch(/^InvalidArgument: tls: cannot use the certificate, key or CA given: /);
  }
}, 60_000);
