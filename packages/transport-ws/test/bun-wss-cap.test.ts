import { afterEach, expect } from 'vitest';
import { ErrorCode } from '@skein/core';
import { itNeeding, launch, reap, suiteCerts, testTls, within, type Proc } from '@skein/test-utils';
import { fileURLToPath } from 'node:url';
import { wsTransport } from '../src/index.js';
import { frame, record, spec, text } from './helpers.js';

// Under Bun the ws server runs Bun's node:tls server over each socket it accepts (https-servers.ts),
// and hands a wss:// connection to the server's accept at TCP accept, as on Node. A server at its
// cap closes it there: it must be refused before the upgrade, never upgraded and then closed.
const certs = suiteCerts();
const { serverTls, clientTls } = testTls(certs);
const fixture = fileURLToPath(new URL('./fixtures/capped-wss-server.mjs', import.meta.url));
let server: Proc | undefined;
afterEach(() => reap(server));

itNeeding(['bun'], 'a Bun wss:// server refuses a connection its accept closes before upgrading it', async () => {
  server = launch('bun', fixture, [JSON.stringify(serverTls())]);
  const port = Number((await server.waitForLine(/^listening (\d+)/))[1]);
  const client = wsTransport({ tls: clientTls() });
  const address = { host: '127.0.0.1', port, tls: true };

  const first = await client.connect(address, spec, { timeoutMs: 10_000 });
  const echoed = new Promise<string>((resolve) => record(first, { frame: (body) => resolve(text(body)) }));
  first.write(frame('one'));
  first.flush();
  expect(await within(echoed, 10_000, 'the echo')).toBe('one');

  // Refused at accept: the connect fails (no 101 came), it does not open and then close.
  const second = await client.connect(address, spec, { timeoutMs: 10_000 }).then(
    (conn) => (conn.close(), 'opened'),
    (err: { code: ErrorCode }) => err.code,
  );
  expect(second).not.toBe('opened');
  await server.waitForLine(/^refused 1$/);
  expect(server.lines.filter((l) => l === 'frame')).toHaveLength(1);
  first.close();
}, 30_000);

// The client's certificate is no reason of the refusal: this server asks for none. A client that
// has one configured (mTLS elsewhere) must not read the cap's close as its certificate refused
// (Unauthenticated: a pool fails every waiting call at once, and does not take it elsewhere).
itNeeding(['bun'], 'a client with a certificate refused by a Bun wss:// server at its cap (asking for no certificate) is not told Unauthenticated', async () => {
  server = launch('bun', fixture, [JSON.stringify(serverTls())]);
  const port = Number((await server.waitForLine(/^listening (\d+)/))[1]);
  const client = wsTransport({ tls: clientTls(certs.client) });
  const address = { host: '127.0.0.1', port, tls: true };
  const first = await client.connect(address, spec, { timeoutMs: 10_000 });
  const second = await client.connect(address, spec, { timeoutMs: 10_000 }).then(
    (conn) => (conn.close(), 'opened'),
    (err: { code: ErrorCode }) => err.code,
  );
  await server.waitForLine(/^refused 1$/);
  // As for a client without one (the server closed before its answer), not Unauthenticated.
  expect(second).toBe(ErrorCode.Unreachable);
  first.close();
}, 30_000);
