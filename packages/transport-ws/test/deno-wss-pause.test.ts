import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, expect } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { itNeeding, launch, reap, suiteCerts, testTls, type Proc } from '@skein/test-utils';
import { header } from './helpers.js';

// Deno's node:tls (2.9) stops its TLS layer when paused, but the TCP handle beneath read on and
// kept all it read: a paused Deno wss client grew without bound, and its server saw no backpressure
// (the conformance `backpressure` cell: the server answered all 128 calls to a paused reader); a
// Deno wss server that paused a congested connection grew with all its peer sent.
const certs = suiteCerts();
const { serverTls, clientTls } = testTls(certs);
const clientFixture = fileURLToPath(new URL('./fixtures/paused-wss-client.mjs', import.meta.url));
const serverFixture = fileURLToPath(new URL('./fixtures/paused-wss-server.mjs', import.meta.url));
const MiB = 1 << 20;
/** What the server offers in all: far more than the kernel's buffers on both sides hold. */
const FLOOD_BYTES = 256 * MiB;
/** What the kernel's buffers and ws's read before the pause may take (loopback's reach a few MiB each). */
const BOUND_BYTES = 16 * MiB;
/** The server's sends made no progress for this long: the reader stopped (safety net, not a timing claim). */
const STALL_MS = 1_000;
let child: Proc | undefined;
let server: https.Server | undefined;
let peer: WebSocket | undefined;
afterEach(async () => {
  peer?.terminate();
  await reap(child);
  server?.closeAllConnections();
  server?.close();
  [child, server, peer] = [undefined, undefined, undefined];
});

/** Sends 512 KiB frames as fast as the kernel takes them; resolves with the bytes it took once it stalls or took FLOOD_BYTES. */
function flood(ws: WebSocket): Promise<number> {
  const message = new Uint8Array(512 * 1024);
  message.set(header(message.length - 4));
  let took = 0;
  let lastProgress = Date.now();
  return new Promise((resolve) => {
    const pump = (): void => {
      while (ws.readyState === ws.OPEN && ws.bufferedAmount < MiB) {
        ws.send(message, () => ((took += message.length), (lastProgress = Date.now()), took >= FLOOD_BYTES ? finish() : pump()));
      }
    };
    const check = setInterval(() => Date.now() - lastProgress >= STALL_MS && finish(), 100);
    const finish = (): void => (clearInterval(check), resolve(took));
    pump();
  });
}

itNeeding(['deno'], 'a paused Deno wss client stops reading: its server stalls with what the kernel holds, not all it offers', async () => {
  server = https.createServer(serverTls());
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  const connected = once(wss, 'connection') as Promise<[WebSocket]>;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  child = launch('deno', clientFixture, [String((server.address() as AddressInfo).port), JSON.stringify(clientTls())]);
  const [ws] = await connected;
  expect((await child.waitForLine(/^(paused|failed .*)$/))[0]).toBe('paused');
  const took = await flood(ws);
  // Before the fix the Deno client read all FLOOD_BYTES (its RSS grew with them); Node's stalls at a few MiB.
  expect(took).toBeLessThan(BOUND_BYTES);
  expect(child.lines.filter((l) => l.startsWith('closed'))).toEqual([]);
}, 60_000);

itNeeding(['deno'], 'a Deno wss server stops reading a connection it paused: its peer stalls with what the kernel holds', async () => {
  child = launch('deno', serverFixture, [JSON.stringify(serverTls())]);
  const [, port] = await child.waitForLine(/^listening (\d+)/);
  peer = new WebSocket(`wss://127.0.0.1:${port}/skein`, { ...clientTls(), perMessageDeflate: false });
  await once(peer, 'open');
  await child.waitForLine(/^paused$/);
  // Before the fix the Deno server read all FLOOD_BYTES and held them.
  expect(await flood(peer)).toBeLessThan(BOUND_BYTES);
  expect(child.lines.filter((l) => l.startsWith('closed'))).toEqual([]);
}, 60_000);
