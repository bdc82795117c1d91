import { afterEach, expect } from 'vitest';
import { itNeeding, launch, rawConnect, reap, sleep, suiteCerts, testTls, waitFor, within, type Proc, type RawSocket } from '@skein/test-utils';
import net from 'node:net';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { wsTransport } from '../src/index.js';
import { frame, record, spec, text } from './helpers.js';

// Under Bun, as under Node, the ws server accepts each TCP connection itself and bounds its TLS
// handshake and its upgrade (ws-server.ts). The test gives the fixture tls.handshakeTimeoutMs and
// upgradeTimeoutMs to 500: left to itself, Bun holds an idle connection about 12 s whatever they say.
const certs = suiteCerts();
const { serverTls, clientTls } = testTls(certs);
const fixture = fileURLToPath(new URL('./fixtures/idle-wss-server.mjs', import.meta.url));
let server: Proc | undefined;
const opened: net.Socket[] = [];
const raws: RawSocket[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.destroy();
  for (const r of raws.splice(0)) r.destroy();
  return reap(server);
});

/**
 * The safety net for a close asked at 500 ms: well under Bun's own ~12 s, so that only the
 * timeout under test can close within it, and well over 500 ms, so that a Bun child starved of
 * CPU for seconds (a loaded CI machine) still closes within it.
 */
const NET_MS = 8000;
/** Each test's own timeout: above starting Bun (20 s at most) and two NET_MS, so a slow stage is named. */
const TEST_MS = 45_000;

/** 'closed' once the server closes `socket`, 'open' if it has not after `ms`: what decides is whether it closed. */
function closedWithin(socket: net.Socket, ms: number): Promise<'closed' | 'open'> {
  socket.on('error', () => {});
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve('closed');
    const t = setTimeout(() => resolve('open'), ms);
    socket.once('close', () => (clearTimeout(t), resolve('closed')));
  });
}

async function listening(upgradeTimeoutMs = 500): Promise<number> {
  server = launch('bun', fixture, [JSON.stringify(serverTls({ handshakeTimeoutMs: 500 })), String(upgradeTimeoutMs)]);
  return Number((await server.waitForLine(/^listening (\d+)/))[1]);
}

itNeeding(['bun'], 'a Bun wss:// server closes a connection whose TLS handshake is done but whose upgrade request never comes, at upgradeTimeoutMs', async () => {
  const port = await listening();
  const client = tls.connect({ host: '127.0.0.1', port, ...clientTls() });
  opened.push(client);
  await new Promise<void>((resolve, reject) => client.once('secureConnect', resolve).once('error', reject));
  expect(await closedWithin(client, NET_MS)).toBe('closed');
}, TEST_MS);

itNeeding(['bun'], 'a Bun wss:// server keeps an upgraded connection past upgradeTimeoutMs (the upgrade stops the clock)', async () => {
  const port = await listening();
  const conn = await wsTransport({ tls: clientTls() }).connect({ host: '127.0.0.1', port, tls: true }, spec, { timeoutMs: 10_000 });
  const r = record(conn);
  // Over twice upgradeTimeoutMs: a clock the upgrade did not stop has gone off by then.
  await sleep(1500);
  conn.write(frame('still here'));
  conn.flush();
  await within(waitFor(() => r.bodies.length > 0 || r.isClosed), 10_000, 'the echo or the close');
  expect({ closed: r.isClosed, echoes: r.bodies.map(text) }).toEqual({ closed: false, echoes: ['still here'] });
  conn.close();
}, TEST_MS);

// A TCP connection that never finishes its TLS handshake: Bun's https server would show it to no
// one and hold it about 12 s whatever tls.handshakeTimeoutMs said (a slowloris: strangers hold
// sockets for free). The ws server accepts it itself and runs the TLS over it (ws-server.ts), so
// handshakeTimeoutMs closes it. upgradeTimeoutMs is a minute here: only the handshake's own
// timeout can close it within the safety net, and the server says which one did.
async function closedByHandshakeTimeout(hello: Uint8Array | undefined): Promise<{ closed: boolean; reason: string }> {
  const port = await listening(60_000);
  const raw = await rawConnect(`127.0.0.1:${port}`);
  raws.push(raw);
  if (hello) raw.write(hello);
  const closed = (await Promise.race([raw.closedByPeer, sleep(NET_MS).then(() => 'open' as const)])) !== 'open';
  const reason = closed ? (await server!.waitForLine(/^closed (.*)$/, NET_MS))[1]! : 'none';
  return { closed, reason };
}

itNeeding(['bun'], 'a Bun wss:// server closes a TCP connection that never sends a ClientHello at tls.handshakeTimeoutMs (Timeout)', async () => {
  expect(await closedByHandshakeTimeout(undefined)).toEqual({ closed: true, reason: 'TLS handshake not done within 500 ms' });
}, TEST_MS);

itNeeding(['bun'], 'a Bun wss:// server closes a TCP connection that sends half a ClientHello at tls.handshakeTimeoutMs (Timeout)', async () => {
  // A TLS record header announcing a 200-byte ClientHello, and its first 6 bytes: the rest never comes.
  const half = Buffer.from('16030100c8' + '010000c40303', 'hex');
  expect(await closedByHandshakeTimeout(half)).toEqual({ closed: true, reason: 'TLS handshake not done within 500 ms' });
}, TEST_MS);
