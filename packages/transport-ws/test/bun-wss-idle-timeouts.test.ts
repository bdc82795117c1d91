import { afterEach, expect } from 'vitest';
import { itNeeding, launch, reap, sleep, suiteCerts, waitFor, within, type Proc } from '@skein/test-utils';
import net from 'node:net';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { wsTransport } from '../src/index.js';
import { frame, record, spec, text } from './helpers.js';

// Under Bun the https server does the TLS and parses the request itself, and the ws server sees
// a connection only from its handshake's end ('connection') to its upgrade request
// (ws-server.ts). The fixture sets tls.handshakeTimeoutMs and upgradeTimeoutMs to 500: left to
// itself, Bun holds an idle connection about 12 s whatever they say.
const certs = suiteCerts();
const fixture = fileURLToPath(new URL('./fixtures/idle-wss-server.mjs', import.meta.url));
let server: Proc | undefined;
const opened: net.Socket[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.destroy();
  return reap(server);
});

/**
 * 'closed' once the server closes `socket`, 'open' if it has not after `ms`: a safety net well
 * under Bun's own ~12 s, well over the 500 ms asked for; what decides is whether it closed.
 */
function closedWithin(socket: net.Socket, ms: number): Promise<'closed' | 'open'> {
  socket.on('error', () => {});
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve('closed');
    const t = setTimeout(() => resolve('open'), ms);
    socket.once('close', () => (clearTimeout(t), resolve('closed')));
  });
}

async function listening(): Promise<number> {
  server = launch('bun', fixture, [certs.dir]);
  return Number((await server.waitForLine(/^listening (\d+)/))[1]);
}

itNeeding(['bun'], 'a Bun wss:// server closes a connection whose TLS handshake is done but whose upgrade request never comes, at upgradeTimeoutMs', async () => {
  const port = await listening();
  const client = tls.connect({ host: '127.0.0.1', port, ca: certs.ca, servername: 'localhost' });
  opened.push(client);
  await new Promise<void>((resolve, reject) => client.once('secureConnect', resolve).once('error', reject));
  expect(await closedWithin(client, 3000)).toBe('closed');
}, 20_000);

itNeeding(['bun'], 'a Bun wss:// server keeps an upgraded connection past upgradeTimeoutMs (the upgrade stops the clock)', async () => {
  const port = await listening();
  const conn = await wsTransport({ tls: { ca: certs.ca } }).connect({ host: '127.0.0.1', port, tls: true }, spec, { timeoutMs: 10_000 });
  const r = record(conn);
  // Over twice upgradeTimeoutMs: a clock the upgrade did not stop has gone off by then.
  await sleep(1500);
  conn.write(frame('still here'));
  conn.flush();
  await within(waitFor(() => r.bodies.length > 0 || r.isClosed), 10_000, 'the echo or the close');
  expect({ closed: r.isClosed, echoes: r.bodies.map(text) }).toEqual({ closed: false, echoes: ['still here'] });
  conn.close();
}, 20_000);

// Bun 1.4's https server shows no socket before its TLS handshake is done: it runs the handshake
// natively, with no handshake timeout of its own and none we can set (handshakeTimeout, timeout,
// setTimeout, headersTimeout, requestTimeout all tried), and emits 'connection' for a socket that
// never finishes it only as it closes. Such a socket holds no place in the server's cap (it
// reaches accept only at its upgrade request), but it is held until Bun's own ~12 s, not
// tls.handshakeTimeoutMs. Kept as an expected failure: it passes, and so fails here, once a Bun
// bounds the handshake.
itNeeding(['bun'], 'KNOWN LIMIT: a Bun wss:// server holds a TCP connection that never sends a ClientHello past tls.handshakeTimeoutMs', async () => {
  const port = await listening();
  const raw = net.connect({ host: '127.0.0.1', port });
  opened.push(raw);
  await new Promise<void>((resolve, reject) => raw.once('connect', resolve).once('error', reject));
  expect(await closedWithin(raw, 3000)).toBe('open');
}, 20_000);
