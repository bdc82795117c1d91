import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, expect } from 'vitest';
import { itNeeding, launch, reap, type Proc } from '@skein/test-utils';
import { upgradeAnswer } from './helpers.js';

// Bun's standard WebSocket waits about 36 s for the answer to its close frame; a client that
// gave up on its server (close(), a failure) must drop the socket after the 2 s linger, as the
// ws client does, or a server that never answers holds it.
const fixture = fileURLToPath(new URL('./fixtures/closing-client.mjs', import.meta.url));
let client: Proc | undefined;
let server: net.Server | undefined;
afterEach(async () => {
  await reap(client);
  server?.close();
});

itNeeding(['bun'], "a Bun client drops a connection it closed when the server never answers the close frame, after the linger, not Bun's ~36 s", async () => {
  let afterUpgrade = Buffer.alloc(0);
  const gone = new Promise<void>((resolve) => {
    server = net.createServer((socket) => {
      let request = '';
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => {
        if (request.endsWith('\r\n\r\n')) return void (afterUpgrade = Buffer.concat([afterUpgrade, chunk]));
        request += chunk.toString('latin1');
        // Upgraded, and never a byte more: no close frame answers the client's.
        if (request.endsWith('\r\n\r\n')) socket.write(upgradeAnswer(request));
      });
      socket.on('close', () => resolve());
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  client = launch('bun', fixture, [String((server!.address() as net.AddressInfo).port)]);
  await client.waitForLine(/^connected$/);
  // A safety net well under the ~36 s Bun waited by itself.
  const late = new Promise<false>((resolve) => setTimeout(() => resolve(false), 15_000).unref());
  expect(await Promise.race([gone.then(() => true), late])).toBe(true);
  // The close frame went first (opcode 8, FIN): the socket was dropped after it, not instead of it.
  expect(afterUpgrade[0]).toBe(0x88);
}, 40_000);
