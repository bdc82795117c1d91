import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, expect } from 'vitest';
import { itNeeding, launch, reap, type Proc, type RuntimeName } from '@skein/test-utils';
import { upgradeAnswer } from './helpers.js';

// A client that gave up on its server (close(), a failure) must drop the socket after the 2 s
// linger, as the ws client under Node does, or a server that never answers the close frame holds
// it: Bun's standard WebSocket waited about 36 s by itself, Deno's (2.9) until the server let go
// or the process ended (Deno's WebSocket, and its WebSocketStream, cannot drop a connection).
const fixture = fileURLToPath(new URL('./fixtures/closing-client.mjs', import.meta.url));
let client: Proc | undefined;
let server: net.Server | undefined;
afterEach(async () => {
  await reap(client);
  server?.close();
});

/** What the runtime did on its own with a server that never answers: the safety net stays well under it. */
const UNAIDED: Record<Exclude<RuntimeName, 'node'>, string> = { bun: "Bun's ~36 s", deno: "Deno's wait until the server lets go" };

for (const runtime of ['bun', 'deno'] as const) {
  itNeeding([runtime], `a ${runtime} client drops a connection it closed when the server never answers the close frame, after the linger, not ${UNAIDED[runtime]}`, async () => {
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
    client = launch(runtime, fixture, [String((server!.address() as net.AddressInfo).port)]);
    await client.waitForLine(/^connected$/);
    // A safety net well over the 2 s linger (a loaded machine), well under what the runtime waits by itself.
    const late = new Promise<false>((resolve) => setTimeout(() => resolve(false), 15_000).unref());
    expect(await Promise.race([gone.then(() => true), late])).toBe(true);
    // The close frame went first (opcode 8, FIN): the socket was dropped after it, not instead of it.
    expect(afterUpgrade[0]).toBe(0x88);
  }, 40_000);
}
