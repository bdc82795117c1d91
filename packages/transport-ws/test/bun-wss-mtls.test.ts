import { afterEach, expect } from 'vitest';
import { itNeeding, launch, reap, suiteCerts, testTls, waitFor, within, type Proc } from '@skein/test-utils';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { wsTransport } from '../src/index.js';
import { frame, record, spec, text } from './helpers.js';

// Under Bun the ws server's TLS is Bun's node:tls server (https-servers.ts), not Node's: its check
// of the client certificate must still let in only a verified one, whose identity handlers see
// (as on Node), and a client with none, or a bad one, must get nowhere.
const certs = suiteCerts();
const { mtls, clientTls } = testTls(certs);
const fixture = fileURLToPath(new URL('./fixtures/mtls-wss-server.mjs', import.meta.url));
const unloadable = fileURLToPath(new URL('./fixtures/wss-unloadable.mjs', import.meta.url));
let server: Proc | undefined;
afterEach(() => reap(server));

/** The CN of the certificate the server at `port` shows a client with a good certificate. */
async function servedCn(port: number): Promise<string> {
  const sock = tls.connect({ host: '127.0.0.1', port, ...clientTls(certs.client) });
  try {
    await new Promise((resolve, reject) => sock.once('secureConnect', resolve).once('error', reject));
    return String(sock.getPeerCertificate().subject.CN);
  } finally {
    sock.destroy();
  }
}

async function echoOrFailure(port: number, pair: { cert: string; key: string } | undefined): Promise<string> {
  const client = wsTransport({ tls: clientTls(pair) });
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

itNeeding(['bun'], 'a Bun wss:// mTLS server lets in only a verified client certificate, and shows its identity, as promised at accept', async () => {
  server = launch('bun', fixture, [JSON.stringify(mtls()), JSON.stringify(certs.reloaded)]);
  const port = Number((await server.waitForLine(/^listening (\d+)/))[1]);
  for (const bad of [undefined, certs.expired, certs.foreign, certs.server]) expect(await echoOrFailure(port, bad)).toBe('refused');
  expect(server.lines.filter((l) => l.startsWith('identity'))).toEqual([]);
  expect(await echoOrFailure(port, certs.client)).toBe('hello');
  // As on Node: accepted at TCP accept with the identity still to come (so RpcServer may let it in
  // on probation, peers.admit), and it comes with the upgrade.
  expect(JSON.parse((await server.waitForLine(/^identity (.*)$/))[1]!)).toMatchObject({ subject: 'CN=test-client', altNames: ['URI:spiffe://skein.test/client', 'DNS:client.skein.test'] });
  expect(new Set(server.lines.filter((l) => l.startsWith('pending')))).toEqual(new Set(['pending true']));
  // Each refused one closed saying why (the client certificate, not some I/O failure). Its line
  // is the server's own event, printed as it sees the close: waited for, not read the moment
  // the clients' calls settled (the bound only guards a hang).
  const refused = (): string[] => server!.lines.filter((l) => l.startsWith('closed ') && l !== 'closed none');
  const refusals = await waitFor(() => (refused().length >= 4 ? refused() : undefined), { timeoutMs: 20_000, what: 'four refused connections closed on the server' });
  expect(refusals).toHaveLength(4);
  for (const r of refusals) expect(r).toMatch(/^closed TLS client certificate refused: /);
}, 60_000);

itNeeding(['bun'], "a Bun wss:// server's reloadTls serves the new certificate to later connections, in place", async () => {
  server = launch('bun', fixture, [JSON.stringify(mtls()), JSON.stringify(certs.reloaded)]);
  const [, outcome] = await server.waitForLine(/^reload (.*)$/);
  expect(outcome).toBe('done');
  const port = Number((await server.waitForLine(/^listening (\d+)/))[1]);
  expect(await servedCn(port)).toBe('reloaded');
  expect(await echoOrFailure(port, certs.client)).toBe('hello');
}, 60_000);

// As on Node and on every transport: what the TLS library will not load is InvalidArgument at
// listen (Bun's https server loaded it only as it listened, where it said IO: "Failed to create HTTP server").
itNeeding(['bun'], 'a Bun wss:// listen with a certificate, key or CA that does not load fails with InvalidArgument, saying why', async () => {
  server = launch('bun', unloadable, [certs.dir]);
  await server.waitForLine(/^done$/);
  const outcome = (name: string): string | undefined => server!.lines.find((l) => l.startsWith(`${name} `))?.slice(name.length + 1);
  for (const name of ['wrong-key', 'not-pem', 'bad-ca']) {
    expect(outcome(name)).toMatch(/^InvalidArgument: tls: cannot use the certificate, key or CA given: /);
  }
}, 60_000);
